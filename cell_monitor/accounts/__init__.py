"""Instructor accounts, sign-in sessions, ingest tokens, rate limits and the permission guard."""
