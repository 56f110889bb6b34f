# syntax=docker/dockerfile:1
# cell-monitor images, built from this repository:
#   docker build --target server     -t cell-monitor:server .      # the class server (default)
#   docker build --target jupyterlab -t cell-monitor:jupyterlab .  # JupyterLab + the extension
# docker-compose.yml builds both. The schema is migrated by a one-shot
# `cell-monitor db upgrade` (the compose service `migrate`), never by the
# workers themselves, so migrations cannot race between them.

ARG PYTHON_IMAGE=python:3.11-slim
# The extension build wants Node.js >= 20: Debian 13 (trixie) ships it, so the
# build stage uses the trixie variant of the same Python image. Only the
# pure-Python cell-monitor wheel leaves this stage.
ARG BUILD_IMAGE=python:3.11-slim-trixie

# ---- build: the wheel, with the JupyterLab extension built inside it --------
FROM ${BUILD_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 npm_config_fund=false npm_config_audit=false
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# npm packages first (cached until package.json / package-lock.json change).
COPY package.json package-lock.json ./
RUN npm ci --loglevel=error
COPY . .
# hatch-jupyter-builder runs `npm run build:prod` (tsc + jupyter-builder) and
# puts cell_monitor/labextension into the wheel. Dependencies are not built
# here: the runtime stage installs them from the index as wheels.
RUN pip wheel --no-deps . -w /wheels \
    && ls /wheels/cell_monitor-*.whl

# ---- server: the FastAPI class server ---------------------------------------
FROM ${PYTHON_IMAGE} AS server
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    CELL_MONITOR_HOST=0.0.0.0 \
    CELL_MONITOR_PORT=8000 \
    CELL_MONITOR_WORKERS=2 \
    CELL_MONITOR_LOG_FORMAT=json
RUN groupadd --system --gid 10001 cellmonitor \
    && useradd --system --uid 10001 --gid cellmonitor --create-home \
       --home-dir /home/cellmonitor --shell /usr/sbin/nologin cellmonitor
COPY --from=build /wheels /wheels
RUN pip install "$(ls /wheels/cell_monitor-*.whl)[postgres,redis,influx]"
USER cellmonitor
WORKDIR /home/cellmonitor
EXPOSE 8000
# Liveness only: /health/ready would also fail while PostgreSQL is away.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('CELL_MONITOR_PORT', '8000'), timeout=4)"]
# `exec` makes cell-monitor PID 1, so `docker stop` (SIGTERM) shuts it down gracefully.
CMD ["sh", "-c", "exec cell-monitor serve --host 0.0.0.0 --port 8000 --workers \"${CELL_MONITOR_WORKERS}\""]

# ---- jupyterlab: a JupyterLab with both halves of the extension enabled -----
FROM server AS jupyterlab
USER root
RUN pip install "$(ls /wheels/cell_monitor-*.whl)[jupyter]" \
    && mkdir -p /home/cellmonitor/work \
    && chown cellmonitor:cellmonitor /home/cellmonitor/work
USER cellmonitor
WORKDIR /home/cellmonitor/work
EXPOSE 8888
# /api answers without a token (it only returns the server version).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8888/api', timeout=4)"]
CMD ["jupyter", "lab", "--ip", "0.0.0.0", "--port", "8888", "--no-browser"]
