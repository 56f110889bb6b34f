"""The per-student channel ("the inbox"): everything addressed to a student, long-polled."""
