"""`cell-monitor simulate`: a realistic class sending events, for demos and load."""

from cell_monitor.simulate.classroom import ClassProfile, Simulation
from cell_monitor.simulate.sender import Sender, SendStats

__all__ = ["ClassProfile", "SendStats", "Sender", "Simulation"]
