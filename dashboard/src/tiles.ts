// The class overview: one tile per student, keyed by student. A frame that
// changes three students touches three tiles (and moves those out of place).

import { el, reorder, setText, STATUS_ICON, STATUS_LABEL } from './dom.js';
import { displayName, formatAgo, IGroup, IStudent } from './state.js';

interface ITile {
  node: HTMLButtonElement;
  icon: HTMLElement;
  name: HTMLElement;
  where: HTMLElement;
  ago: HTMLElement;
  student: IStudent | null;
}

interface IGroupView {
  node: HTMLElement;
  title: HTMLElement;
  grid: HTMLElement;
}

function location(student: IStudent): string {
  const notebook = student.lastNotebook?.split('/').pop() ?? '';
  const cell =
    student.lastCellIndex !== null ? ` · cell ${student.lastCellIndex}` : '';
  return notebook ? `${notebook}${cell}` : '';
}

function describe(student: IStudent): string {
  const parts = [displayName(student), STATUS_LABEL[student.status]];
  if (student.teamName) {
    parts.push(`team ${student.teamName}`);
  }
  const where = location(student);
  if (where) {
    parts.push(where);
  }
  if (
    student.lastError &&
    (student.status === 'error' || student.status === 'stuck')
  ) {
    parts.push(
      `${student.lastError.name ?? 'Error'}: ${student.lastError.message ?? ''}`
    );
  }
  return parts.join(', ');
}

export class TileView {
  private readonly tiles = new Map<string, ITile>();
  private readonly groups = new Map<string, IGroupView>();

  constructor(
    private readonly root: HTMLElement,
    private readonly onOpen: (student: string) => void
  ) {}

  /** Show `groups`; `changed` students get their tile content refreshed. */
  render(
    groups: IGroup[],
    changed: ReadonlySet<string> | 'all',
    now: number
  ): void {
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
      const icon = el('span', { class: 'tile-icon', 'aria-hidden': 'true' });
      const name = el('span', { class: 'tile-name' });
      const ago = el('span', { class: 'tile-ago' });
      const where = el('span', { class: 'tile-where' });
      const node = el(
        'button',
        { type: 'button', class: 'tile', 'data-student': key },
        el('span', { class: 'tile-line' }, icon, name, ago),
        el('span', { class: 'tile-line tile-sub' }, where)
      );
      node.addEventListener('click', () => this.onOpen(key));
      tile = { node, icon, name, where, ago, student: null };
      this.tiles.set(key, tile);
    }
    return tile;
  }

  private fill(tile: ITile, student: IStudent, now: number): void {
    tile.student = student;
    tile.node.className = `tile status-${student.status}`;
    tile.node.dataset.status = student.status;
    setText(tile.icon, STATUS_ICON[student.status]);
    setText(tile.name, displayName(student));
    const team = student.teamName ? `${student.teamName} · ` : '';
    setText(tile.where, `${team}${location(student)}`);
    setText(tile.ago, formatAgo(student.lastActivity, now));
    tile.node.title = describe(student);
    tile.node.setAttribute('aria-label', describe(student));
  }
}
