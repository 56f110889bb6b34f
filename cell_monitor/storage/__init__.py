"""The primary store: SQLAlchemy models, engine, migrations and the event store."""
