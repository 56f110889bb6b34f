"""`cell-monitor doctor`: the troubleshooting guide's diagnostics, run automatically."""
