"""The wire contract: every model that crosses the network (ingest, reads, live messages)."""
