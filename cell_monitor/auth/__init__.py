"""Who may do what: instructor passwords, login sessions, ingest tokens, rate limits."""
