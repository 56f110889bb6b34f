"""The InfluxDB time-series sink: reads committed events back and writes points."""
