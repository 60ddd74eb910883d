"""Persistence: SQLAlchemy schema, sessions, migrations and the functions that read and write rows."""
