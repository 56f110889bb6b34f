// The instructor's display choices, remembered in this browser: light or dark
// theme (following the system until chosen) and projector mode. They live as
// attributes of <html> (set before the first paint by boot.ts), which the CSS reads.

export const THEME_KEY = 'cell-monitor.dashboard.theme';
export const PROJECTOR_KEY = 'cell-monitor.dashboard.projector';

export type Theme = 'light' | 'dark';

function store(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

function systemTheme(): Theme {
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches
    ? 'dark'
    : 'light';
}

/** The theme in effect: the one chosen here, else the system's. */
export function currentTheme(
  root: HTMLElement = document.documentElement
): Theme {
  const chosen = root.dataset.theme;
  return chosen === 'light' || chosen === 'dark' ? chosen : systemTheme();
}

export function setTheme(
  theme: Theme,
  root: HTMLElement = document.documentElement
): void {
  root.dataset.theme = theme;
  store(THEME_KEY, theme);
}

export function projectorOn(
  root: HTMLElement = document.documentElement
): boolean {
  return root.dataset.projector === 'on';
}

export function setProjector(
  on: boolean,
  root: HTMLElement = document.documentElement
): void {
  if (on) {
    root.dataset.projector = 'on';
  } else {
    delete root.dataset.projector;
  }
  store(PROJECTOR_KEY, on ? 'on' : 'off');
}

/** A toggle button (aria-pressed) that shows and flips one choice. */
export function bindToggle(
  button: HTMLButtonElement,
  isOn: () => boolean,
  flip: () => void
): () => void {
  const show = () => button.setAttribute('aria-pressed', String(isOn()));
  button.addEventListener('click', () => {
    flip();
    show();
  });
  show();
  return show;
}
