"""`python -m cell_monitor.cli`."""

from cell_monitor.cli import main

main()
