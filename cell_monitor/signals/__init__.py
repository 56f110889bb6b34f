"""Test results per question and time on task: the reads and their routes."""
