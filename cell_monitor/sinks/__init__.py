"""Sinks: where committed events go after the primary store (InfluxDB for now)."""
