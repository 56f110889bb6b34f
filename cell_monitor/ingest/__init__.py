"""Ingest: parse and validate event batches, group-commit them, POST /api/v1/events."""
