// The class view: toolbar (filter, team, notebook, grouping, sorting, status
// chips), the tiles and the summary counts; redrawn at most once per frame.

import { download } from './api.js';
import { byId, el, setText, STATUS_ICON, STATUS_LABEL } from './dom.js';
import {
  arrange,
  ClassState,
  countByStatus,
  distinct,
  GroupKey,
  IChanges,
  IStudent,
  IViewOptions,
  SortKey,
  STATUS_ORDER
} from './state.js';
import type { Status } from './wire.gen.js';
import { TileView } from './tiles.js';

export class Overview {
  readonly view: IViewOptions;
  private readonly tiles: TileView;
  private readonly chips = new Map<Status, HTMLButtonElement>();
  private dirty = true;
  private changed = new Set<string>();
  private teams = '';
  private notebooks = '';
  private sortBeforeProjector: SortKey = 'priority';

  constructor(
    private readonly state: ClassState,
    initial: IViewOptions,
    openStudent: (student: string) => void,
    private readonly onViewChange: () => void
  ) {
    this.view = { ...initial };
    this.tiles = new TileView(byId('tiles'), openStudent);
    this.bindToolbar();
  }

  /** Test results changed: tiles show "n/m passed" again and the rates strip. */
  setTests(testsOf: (student: IStudent) => string): void {
    this.tiles.setTests(testsOf);
    this.refilter();
  }

  /** Note what a frame changed; render() applies it. */
  note(changes: IChanges): void {
    if (changes.reset) {
      this.dirty = true;
    }
    for (const key of changes.students) {
      this.changed.add(key);
    }
  }

  /** Projector mode sorts by priority (attention first) whatever was chosen. */
  setProjector(on: boolean): void {
    const sort = byId<HTMLSelectElement>('sort-by');
    if (on && !sort.disabled) {
      this.sortBeforeProjector = this.view.sort;
      this.view.sort = 'priority';
    } else if (!on && sort.disabled) {
      this.view.sort = this.sortBeforeProjector;
    }
    sort.value = this.view.sort;
    sort.disabled = on;
    this.tiles.setProjector(on);
    this.refilter();
  }

  render(now: number): void {
    const flags = (student: IStudent) => this.state.flags(student);
    const groups = arrange(this.state.students.values(), this.view, flags);
    this.tiles.render(groups, this.dirty ? 'all' : this.changed, now);
    this.dirty = false;
    this.changed = new Set();
    const shown = groups.reduce((n, g) => n + g.students.length, 0);
    byId('tiles-empty').hidden = shown > 0;
    setText(
      byId('tiles-empty'),
      this.state.students.size === 0
        ? 'No students yet. Each student gets a tile here with their first ' +
            'event (opening a notebook, running a cell or asking for help).'
        : 'No student matches the filters: clear the filter box or the ' +
            'status chips to see the whole class.'
    );
    setText(
      byId('shown-count'),
      `${shown} of ${this.state.students.size} students`
    );
    const counts = countByStatus(this.state.students.values(), flags);
    for (const [status, chip] of this.chips) {
      setText(chip.querySelector('.chip-count')!, String(counts[status]));
    }
    this.refreshOptions();
  }

  tick(now: number): void {
    this.tiles.tick(now);
  }

  /** Re-apply the whole view (filters changed). */
  refilter(): void {
    this.dirty = true;
    this.onViewChange();
  }

  focusFilter(): void {
    const filter = byId<HTMLInputElement>('filter');
    filter.focus();
    filter.select();
  }

  cycleGroup(): void {
    const order: GroupKey[] = ['none', 'team', 'notebook'];
    this.view.group =
      order[(order.indexOf(this.view.group) + 1) % order.length];
    byId<HTMLSelectElement>('group-by').value = this.view.group;
    this.refilter();
  }

  cycleSort(): void {
    if (byId<HTMLSelectElement>('sort-by').disabled) {
      return;
    }
    const order: SortKey[] = ['priority', 'name', 'recent'];
    this.view.sort = order[(order.indexOf(this.view.sort) + 1) % order.length];
    byId<HTMLSelectElement>('sort-by').value = this.view.sort;
    this.refilter();
  }

  exportCsv(): Promise<void> {
    return download('/api/v1/export/students.csv', {
      team: this.view.team,
      notebook: this.view.notebook
    });
  }

  private bindToolbar(): void {
    const filter = byId<HTMLInputElement>('filter');
    filter.value = this.view.text;
    const onFilter = () => {
      this.view.text = filter.value;
      this.refilter();
    };
    filter.addEventListener('input', onFilter);
    // Escape in a search field clears it with a `search` event but no `input`.
    filter.addEventListener('search', onFilter);
    const select = (
      id: string,
      apply: (value: string) => void,
      value: string
    ) => {
      const node = byId<HTMLSelectElement>(id);
      node.value = value;
      node.addEventListener('change', () => {
        apply(node.value);
        this.refilter();
      });
    };
    select(
      'team-filter',
      v => (this.view.team = v || null),
      this.view.team ?? ''
    );
    select(
      'notebook-filter',
      v => (this.view.notebook = v || null),
      this.view.notebook ?? ''
    );
    select('group-by', v => (this.view.group = v as GroupKey), this.view.group);
    select('sort-by', v => (this.view.sort = v as SortKey), this.view.sort);
    const chips = byId('status-chips');
    for (const status of STATUS_ORDER) {
      const chip = el(
        'button',
        {
          type: 'button',
          class: `chip status-${status}`,
          'aria-pressed': 'false',
          'data-status': status,
          title: `Show only: ${STATUS_LABEL[status]}`
        },
        el('span', {
          class: 'chip-icon',
          'aria-hidden': 'true',
          text: STATUS_ICON[status]
        }),
        el('span', { class: 'chip-label', text: STATUS_LABEL[status] }),
        el('span', { class: 'chip-count', text: '0' })
      );
      chip.addEventListener('click', () => this.toggleStatus(status));
      this.chips.set(status, chip);
      chips.append(chip);
    }
    byId('export-students').addEventListener(
      'click',
      () => void this.exportCsv()
    );
  }

  private toggleStatus(status: Status): void {
    const statuses = new Set(this.view.statuses ?? []);
    if (statuses.has(status)) {
      statuses.delete(status);
    } else {
      statuses.add(status);
    }
    this.view.statuses = statuses.size ? statuses : null;
    for (const [key, chip] of this.chips) {
      chip.setAttribute('aria-pressed', String(statuses.has(key)));
    }
    this.refilter();
  }

  /** Team and notebook choices follow the class (only rebuilt when they change). */
  private refreshOptions(): void {
    const teams = distinct(this.state.students.values(), 'teamName');
    const notebooks = distinct(this.state.students.values(), 'lastNotebook');
    if (teams.join('\n') !== this.teams) {
      this.teams = teams.join('\n');
      fillOptions(byId('team-filter'), 'All teams', teams, this.view.team);
    }
    if (notebooks.join('\n') !== this.notebooks) {
      this.notebooks = notebooks.join('\n');
      fillOptions(
        byId('notebook-filter'),
        'All notebooks',
        notebooks,
        this.view.notebook
      );
    }
  }
}

export function fillOptions(
  select: HTMLElement,
  allLabel: string | null,
  values: string[],
  selected: string | null
): void {
  const options =
    allLabel === null ? [] : [el('option', { value: '', text: allLabel })];
  const all =
    selected && !values.includes(selected) ? [...values, selected] : values;
  for (const value of all) {
    options.push(el('option', { value, text: value }));
  }
  select.replaceChildren(...options);
  (select as HTMLSelectElement).value =
    selected ?? (allLabel === null ? (all[0] ?? '') : '');
}
