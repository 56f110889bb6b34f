"""Pure rules with no I/O: the normalized event record and live status."""
