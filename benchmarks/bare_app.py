"""The bare floor: a FastAPI endpoint that only reads and parses the JSON body.

benchmarks/ingest.py serves this with uvicorn the way `cell-monitor serve` does
(same loop, HTTP parser, worker count and logging set-up) and measures it with
the same wrk command, so the gap to cell-monitor's figures is what validation,
storage and metrics cost, not HTTP or the framework.

Usage: .venv/bin/python benchmarks/bare_app.py --port 8001 [--workers 1]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import orjson
import uvicorn
from fastapi import FastAPI, Request, Response


async def post_events(request: Request) -> Response:
    data = orjson.loads(await request.body())
    count = len(data) if isinstance(data, list) else 1
    # Same response shape as cell-monitor, so the wrk script counts it alike.
    body = {"accepted": count, "duplicates": 0, "truncated": 0, "rejected": []}
    return Response(orjson.dumps(body), status_code=202, media_type="application/json")


async def ready() -> dict[str, str]:
    return {"status": "ready"}


def create_app() -> FastAPI:
    """Factory run in every worker, like cell_monitor's create_app_from_env."""
    # As cell_monitor.logs does: one root handler, access lines below WARNING
    # dropped, so both servers pay the same logging cost per request.
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    app = FastAPI()
    app.add_api_route("/api/v1/events", post_events, methods=["POST"])
    app.add_api_route("/health/ready", ready, methods=["GET"])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bare_app:create_app",
        factory=True,
        app_dir=str(Path(__file__).parent),
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
