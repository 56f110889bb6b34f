"""`cell-monitor doctor`: the troubleshooting guide's diagnostics, run automatically."""

from cell_monitor.doctor.findings import CheckResult, Finding, Report, Urgency
from cell_monitor.doctor.runner import DoctorOptions, run_doctor

__all__ = ["CheckResult", "DoctorOptions", "Finding", "Report", "Urgency", "run_doctor"]
