// The class overview: one tile per student, keyed by student. A frame that
// changes three students touches three tiles (and moves those out of place);
// the tile with the keyboard focus is never rebuilt nor moved.

import { el, reorder, setText, STATUS_ICON, STATUS_LABEL } from './dom.js';
import {
  displayName,
  formatAgo,
  IGroup,
  IStudent,
  notebookLabel,
  publicName
} from './state.js';
import type { StudentView } from './wire.gen.js';

interface ITile {
  node: HTMLButtonElement;
  icon: HTMLElement;
  status: HTMLElement;
  name: HTMLElement;
  team: HTMLElement;
  notebook: HTMLElement;
  cell: HTMLElement;
  tests: HTMLElement;
  ago: HTMLElement;
  student: StudentView | null;
}

interface IGroupView {
  node: HTMLElement;
  title: HTMLElement;
  grid: HTMLElement;
}

/** The tooltip: everything about the student the tile may not have room for. */
export function describe(student: IStudent, name: string): string {
  const parts = [name, STATUS_LABEL[student.status]];
  if (student.teamName) {
    parts.push(`team ${student.teamName}`);
  }
  if (student.lastNotebook) {
    const cell =
      student.lastCellIndex !== null ? `, cell ${student.lastCellIndex}` : '';
    parts.push(`${student.lastNotebook}${cell}`);
  }
  if (student.status === 'quiet') {
    parts.push(
      student.editingCellIndex !== null
        ? `editing cell ${student.editingCellIndex} without a passing run`
        : 'editing without a passing run'
    );
  }
  if (
    student.lastError &&
    (student.status === 'error' || student.status === 'stuck')
  ) {
    parts.push(
      `${student.lastError.name ?? 'Error'}: ${student.lastError.message ?? ''}`
    );
  }
  return parts.join(' · ');
}

export class TileView {
  private readonly tiles = new Map<string, ITile>();
  private readonly groups = new Map<string, IGroupView>();
  private projector = false;
  /** "4/7 passed" of the student's notebook ('' without tests): signals.ts. */
  private testsOf: (student: StudentView) => string = () => '';

  constructor(
    private readonly root: HTMLElement,
    private readonly onOpen: (student: string) => void
  ) {}

  /** New test results: every tile's "n/m passed" is filled again. */
  setTests(testsOf: (student: StudentView) => string): void {
    this.testsOf = testsOf;
    for (const tile of this.tiles.values()) {
      tile.student = null;
    }
  }

  /** Projector mode shows names only (no e-mail address as a fallback). */
  setProjector(on: boolean): void {
    this.projector = on;
    for (const tile of this.tiles.values()) {
      tile.student = null; // refilled on the next render
    }
  }

  /** Show `groups`; `changed` students get their tile content refreshed. */
  render(
    groups: IGroup[],
    changed: ReadonlySet<string> | 'all',
    now: number
  ): void {
    const focused = this.root.ownerDocument.activeElement;
    const seen = new Set<string>();
    const groupNodes: HTMLElement[] = [];
    const grouped =
      groups.length > 1 || (groups.length === 1 && groups[0].key !== '');
    for (const group of groups) {
      const view = this.groupView(group.key);
      setText(view.title, `${group.label} (${group.students.length})`);
      view.title.hidden = !grouped;
      const nodes: HTMLElement[] = [];
      for (const student of group.students) {
        seen.add(student.student);
        const tile = this.tile(student.student);
        if (
          changed === 'all' ||
          changed.has(student.student) ||
          tile.student === null
        ) {
          this.fill(tile, student, now);
        }
        nodes.push(tile.node);
      }
      reorder(view.grid, nodes);
      groupNodes.push(view.node);
    }
    reorder(this.root, groupNodes);
    for (const [key, tile] of this.tiles) {
      if (!seen.has(key)) {
        tile.node.remove();
        this.tiles.delete(key);
      }
    }
    for (const [key, view] of this.groups) {
      if (!view.node.isConnected) {
        this.groups.delete(key);
      }
    }
    // A tile that moved to another group had to leave its grid: focus it again.
    if (
      focused instanceof HTMLElement &&
      focused.isConnected &&
      focused !== this.root.ownerDocument.activeElement
    ) {
      focused.focus({ preventScroll: true });
    }
  }

  /** Refresh the "time since" of every tile (text only). */
  tick(now: number): void {
    for (const tile of this.tiles.values()) {
      if (tile.student) {
        setText(tile.ago, formatAgo(tile.student.lastActivity, now));
      }
    }
  }

  focus(student: string): void {
    this.tiles.get(student)?.node.focus();
  }

  private groupView(key: string): IGroupView {
    let view = this.groups.get(key);
    if (!view) {
      const title = el('h3', { class: 'group-title' });
      const grid = el('div', { class: 'tile-grid' });
      view = {
        node: el('section', { class: 'tile-group' }, title, grid),
        title,
        grid
      };
      this.groups.set(key, view);
    }
    return view;
  }

  private tile(key: string): ITile {
    let tile = this.tiles.get(key);
    if (!tile) {
      // No aria-label: the tile's name is its visible text (plus the status
      // in words for screen readers), so what is seen is what is announced.
      const icon = el('span', { class: 'tile-icon', 'aria-hidden': 'true' });
      const status = el('span', { class: 'sr-only' });
      const name = el('span', { class: 'tile-name' });
      const ago = el('span', { class: 'tile-ago' });
      const team = el('span', { class: 'tile-team' });
      const notebook = el('span', { class: 'tile-notebook' });
      const cell = el('span', { class: 'tile-cell' });
      const tests = el('span', { class: 'tile-tests' });
      const node = el(
        'button',
        { type: 'button', class: 'tile', 'data-student': key },
        el('span', { class: 'tile-line' }, icon, status, name),
        el('span', { class: 'tile-line tile-sub' }, team, notebook, cell, ago),
        tests
      );
      node.addEventListener('click', () => this.onOpen(key));
      tile = {
        node,
        icon,
        status,
        name,
        team,
        notebook,
        cell,
        tests,
        ago,
        student: null
      };
      this.tiles.set(key, tile);
    }
    return tile;
  }

  private fill(tile: ITile, student: StudentView, now: number): void {
    tile.student = student;
    const className = `tile status-${student.status}`;
    if (tile.node.className !== className) {
      tile.node.className = className;
      tile.node.dataset.status = student.status;
    }
    const name = this.projector ? publicName(student) : displayName(student);
    setText(tile.icon, STATUS_ICON[student.status]);
    setText(tile.status, `${STATUS_LABEL[student.status]}:`);
    setText(tile.name, name);
    setText(tile.team, student.teamName ?? '');
    setText(tile.notebook, notebookLabel(student.lastNotebook));
    setText(
      tile.cell,
      student.lastCellIndex !== null ? `cell ${student.lastCellIndex}` : ''
    );
    setText(tile.ago, formatAgo(student.lastActivity, now));
    const tests = this.testsOf(student);
    setText(tile.tests, tests);
    tile.tests.hidden = tests === '';
    const title = describe(student, name) + (tests ? ` · ${tests}` : '');
    if (tile.node.title !== title) {
      tile.node.title = title;
    }
  }
}
