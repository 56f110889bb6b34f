"""Live class state: per-student status and alerts, fanned out to dashboards."""
