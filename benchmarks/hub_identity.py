"""What bound identity adds to ingest, and what a hub token costs once it is known.

Prints, per request of `--events` events: the time to bind every event to the
credential's identity (the step hub mode and per-student credentials add), and
the time of a hub-token lookup answered from the worker's cache (what every
request but a token's first costs). The hub itself is not involved: a token's
first lookup is one HTTP round trip to the hub, measured by the hub's own log.

Usage: .venv/bin/python benchmarks/hub_identity.py [--events 500] [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

from cell_monitor.accounts.hub import HubClient, HubUser
from cell_monitor.accounts.identity import BoundIdentity, bind_all
from cell_monitor.accounts.ingest_tokens import digest
from cell_monitor.config import Settings


def batch(size: int) -> list[dict[str, Any]]:
    return [
        {
            "eventId": str(uuid.uuid4()),
            "eventType": "cell_executed",
            "emailAddress": "someone@school.example",
            "userName": "Someone",
            "teamName": "A",
            "notebookPath": "lesson.ipynb",
            "code": "print(1)",
        }
        for _ in range(size)
    ]


def per_call(seconds: list[float]) -> str:
    median, p95 = statistics.median(seconds), quantile(seconds, 0.95)
    return f"median {median * 1e6:.1f} µs, p95 {p95 * 1e6:.1f} µs"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def cached_lookups(rounds: int, tokens: int) -> list[float]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, hub_api_url="http://127.0.0.1:9/hub/api", hub_api_token="x" * 32
    )
    hub = HubClient(settings)
    values = [f"token-{index}" for index in range(tokens)]
    for value in values:  # as if each had been looked up once
        hub._answers.put(digest(value), HubUser(value, "user", False, ("team-a",)), 300)
    seconds = []
    for index in range(rounds):
        started = time.perf_counter()
        await hub.user_for_token(values[index % tokens])
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=1000, help="students known to the worker")
    args = parser.parse_args()
    identity = BoundIdentity("ada", "hub", name="ada", team="red")
    binds = []
    for _ in range(args.rounds):
        items = batch(args.events)
        started = time.perf_counter()
        bound, mismatches = bind_all(items, identity)
        binds.append(time.perf_counter() - started)
    # Verified, not only timed: every event claimed someone else and now names ada.
    wrong = [item for item in bound if item.get("emailAddress") not in (None, "ada")]
    if mismatches != args.events or wrong or len(bound) != args.events:
        raise SystemExit(f"binding went wrong: {mismatches} mismatches, {len(wrong)} not bound")
    print(f"bound {len(bound)} of {args.events} events to the credential's student")
    print(f"bind {args.events} events: {per_call(binds)} per request "
          f"({statistics.median(binds) / args.events * 1e9:.0f} ns per event)")  # fmt: skip
    lookups = asyncio.run(cached_lookups(args.rounds * 10, args.tokens))
    print(f"hub token lookup from the cache ({args.tokens} students known): {per_call(lookups)}")


if __name__ == "__main__":
    main()
