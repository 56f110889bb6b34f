// Runs in <head> before the page paints (a classic script, no imports): puts
// the remembered theme and projector mode on <html>, so neither flashes.
// The keys are the ones prefs.ts writes.

(() => {
  const root = document.documentElement;
  try {
    const theme = localStorage.getItem('cell-monitor.dashboard.theme');
    if (theme === 'light' || theme === 'dark') {
      root.dataset.theme = theme;
    }
    if (localStorage.getItem('cell-monitor.dashboard.projector') === 'on') {
      root.dataset.projector = 'on';
    }
  } catch {
    // storage disabled: the system's colour scheme, laptop layout
  }
})();
