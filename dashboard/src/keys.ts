// Keyboard shortcuts for the common actions; `?` lists them.

import { byId } from './dom.js';

export interface IShortcutActions {
  focusFilter(): void;
  focusAttention(): void;
  dismissFocused(): void;
  handleFocused(): void;
  showView(index: number): void;
  cycleGroup(): void;
  cycleSort(): void;
  toggleSound(): void;
  toggleTheme(): void;
  toggleProjector(): void;
  reconnect(): void;
  exportCsv(): void;
}

/** The shortcuts, as the `?` dialog lists them. */
export const SHORTCUTS: ReadonlyArray<[string, string]> = [
  ['/', 'Filter students'],
  ['h', 'Jump to needs attention'],
  ['d', 'Dismiss the focused help request'],
  ['x', 'Mark the focused stuck student as handled'],
  ['1 – 7', 'Class, Progress, Errors, Activity, Code, Replay, Messages'],
  ['g', 'Group by: none, team, notebook'],
  ['s', 'Sort by: priority, name, recent activity'],
  ['m', 'Sound for new help requests on/off'],
  ['p', 'Projector mode on/off'],
  ['t', 'Dark or light theme'],
  ['r', 'Reconnect now'],
  ['e', 'Export the class as CSV'],
  ['?', 'This list'],
  ['Esc', 'Close a dialog']
];

function typing(target: EventTarget | null): boolean {
  const node = target as HTMLElement | null;
  return (
    !!node &&
    (node.isContentEditable ||
      ['INPUT', 'SELECT', 'TEXTAREA'].includes(node.tagName))
  );
}

export function bindShortcuts(actions: IShortcutActions): void {
  const dialog = byId<HTMLDialogElement>('shortcuts-dialog');
  const list = byId('shortcuts-list');
  for (const [key, what] of SHORTCUTS) {
    const term = document.createElement('dt');
    const kbd = document.createElement('kbd');
    kbd.textContent = key;
    term.append(kbd);
    const description = document.createElement('dd');
    description.textContent = what;
    list.append(term, description);
  }
  byId('shortcuts-button').addEventListener('click', () => dialog.showModal());
  byId('shortcuts-close').addEventListener('click', () => dialog.close());

  const keys: Record<string, () => void> = {
    '/': actions.focusFilter,
    h: actions.focusAttention,
    d: actions.dismissFocused,
    x: actions.handleFocused,
    g: actions.cycleGroup,
    s: actions.cycleSort,
    m: actions.toggleSound,
    p: actions.toggleProjector,
    t: actions.toggleTheme,
    r: actions.reconnect,
    e: actions.exportCsv,
    '?': () => (dialog.open ? dialog.close() : dialog.showModal())
  };
  document.addEventListener('keydown', event => {
    if (
      event.ctrlKey ||
      event.metaKey ||
      event.altKey ||
      typing(event.target)
    ) {
      if (event.key === 'Escape' && typing(event.target)) {
        (event.target as HTMLElement).blur();
      }
      return;
    }
    const anyDialogOpen = document.querySelector('dialog[open]') !== null;
    if (
      anyDialogOpen &&
      event.key !== '?' &&
      event.key !== 'd' &&
      event.key !== 'x'
    ) {
      return;
    }
    const view = '1234567'.indexOf(event.key);
    if (view >= 0) {
      actions.showView(view);
      event.preventDefault();
      return;
    }
    const action = keys[event.key];
    if (action) {
      action();
      event.preventDefault();
    }
  });
}
