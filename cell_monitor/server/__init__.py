"""The FastAPI server: ingest, read API, health and metrics."""
