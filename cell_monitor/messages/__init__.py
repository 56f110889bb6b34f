"""Messages and hints from the dashboard to students, their receipts and replies."""
