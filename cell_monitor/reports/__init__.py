"""Reports for the dashboard and the read API: activity, progress, hotspots, timeline, CSV."""
