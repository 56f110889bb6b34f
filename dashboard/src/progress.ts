// Notebook progress: cells × students (or cells × class) for one notebook:
// not run / latest run OK / latest run failed, and how many reached each cell;
// test cells show passed / failed / not run, and each cell the class's median
// time (signals.ts).

import { download, getJson } from './api.js';
import { byId, el, setText } from './dom.js';
import { fillOptions } from './overview.js';
import { Refresher } from './refresher.js';
import { formatDuration, NotebookSignals } from './signals.js';
import type {
  LiveEvent,
  NotebookList,
  ProgressOut,
  QuestionsOut,
  TimeOnTaskOut
} from './wire.gen.js';

export type IProgress = ProgressOut;

const MARK = { ok: '✓', failed: '✕' };

/** Keeps the notebook choosers of the Progress and Errors views in step. */
export class NotebookChoices {
  private paths: string[] = [];
  private stale = true;

  /** The notebooks, fetched again only when the feed named a new one. */
  async load(): Promise<string[]> {
    if (this.stale) {
      const list = await getJson<NotebookList>('/api/v1/notebooks');
      this.paths = list.items.map(n => n.path);
      this.stale = false;
    }
    return this.paths;
  }

  /** Note the feed's events (or a fresh snapshot); true when a notebook is new. */
  note(events: LiveEvent[], reset: boolean): boolean {
    const unknown = events.some(
      e =>
        e.eventType === 'cell_executed' &&
        e.notebookPath !== null &&
        !this.paths.includes(e.notebookPath)
    );
    if (unknown || reset) {
      this.stale = true;
    }
    return unknown;
  }
}

/** Zoom steps of the heatmap (1: every column shares the width; more: it scrolls). */
export const ZOOM_STEPS = [1, 1.5, 2, 3] as const;
const ZOOM_KEY = 'cell-monitor.heatmapZoom';

function storedZoom(): number {
  const stored = Number(window.localStorage?.getItem(ZOOM_KEY));
  return (ZOOM_STEPS as readonly number[]).includes(stored) ? stored : 1;
}

export class ProgressView {
  private readonly select = byId<HTMLSelectElement>('progress-notebook');
  private zoom = storedZoom();
  private readonly mode = byId<HTMLSelectElement>('progress-mode');
  private readonly team = byId<HTMLSelectElement>('progress-team');
  private readonly notebooks = new NotebookChoices();
  private readonly refresher = new Refresher(() => this.load(), 2500);
  private chosen: string | null = null;

  constructor(
    private readonly openStudent: (student: string) => void,
    private readonly teams: () => string[]
  ) {
    this.select.addEventListener('change', () => {
      this.chosen = this.select.value || null;
      this.refresher.request();
    });
    this.mode.addEventListener('change', () => this.refresher.request());
    this.team.addEventListener('change', () => this.refresher.request());
    byId('zoom-out').addEventListener('click', () => this.zoomBy(-1));
    byId('zoom-in').addEventListener('click', () => this.zoomBy(1));
    this.showZoom();
    byId('export-progress').addEventListener('click', () => {
      void download('/api/v1/export/executions.csv', {
        notebook: this.chosen,
        team: this.team.value
      });
    });
    byId('export-results').addEventListener('click', () => {
      void download('/api/v1/export/questions.csv', {
        notebook: this.chosen,
        team: this.team.value
      });
    });
    byId('export-time').addEventListener('click', () => {
      if (this.chosen) {
        void download('/api/v1/export/time-on-task.csv', {
          notebook: this.chosen,
          team: this.team.value
        });
      }
    });
  }

  setVisible(visible: boolean): void {
    this.refresher.setVisible(visible);
  }

  /** One zoom step in or out (remembered in this browser). */
  zoomBy(direction: -1 | 1): void {
    const at = (ZOOM_STEPS as readonly number[]).indexOf(this.zoom);
    const next =
      ZOOM_STEPS[Math.min(ZOOM_STEPS.length - 1, Math.max(0, at + direction))];
    if (next !== this.zoom) {
      this.zoom = next;
      window.localStorage?.setItem(ZOOM_KEY, String(next));
      this.showZoom();
      this.refresher.request();
    }
  }

  private showZoom(): void {
    setText(byId('zoom-level'), `${Math.round(this.zoom * 100)} %`);
    byId<HTMLButtonElement>('zoom-out').disabled = this.zoom === ZOOM_STEPS[0];
    byId<HTMLButtonElement>('zoom-in').disabled =
      this.zoom === ZOOM_STEPS[ZOOM_STEPS.length - 1];
  }

  onEvents(events: LiveEvent[], reset: boolean): void {
    const unknown = this.notebooks.note(events, reset);
    const touched = events.some(
      e =>
        (e.eventType === 'cell_executed' || e.eventType === 'engagement') &&
        e.notebookPath === this.chosen
    );
    if (reset || touched || unknown || this.chosen === null) {
      this.refresher.request();
    }
  }

  private async load(): Promise<void> {
    const paths = await this.notebooks.load();
    if (this.chosen === null || !paths.includes(this.chosen)) {
      this.chosen = paths[0] ?? null;
    }
    fillOptions(this.select, null, paths, this.chosen);
    fillOptions(this.team, 'All teams', this.teams(), this.team.value || null);
    const root = byId('heatmap');
    if (this.chosen === null) {
      root.replaceChildren(
        el('p', {
          class: 'muted hm-empty',
          text:
            'No cell has been run yet. When students run cells, each row ' +
            'here is a student and each column a cell of the notebook: ' +
            '✓ ran OK, ✕ the last run failed, blank not run yet.'
        })
      );
      return;
    }
    const params = { notebook: this.chosen, team: this.team.value };
    const [progress, questions, time] = await Promise.all([
      getJson<ProgressOut>('/api/v1/progress', params),
      getJson<QuestionsOut>('/api/v1/questions', params),
      getJson<TimeOnTaskOut>('/api/v1/time-on-task', params)
    ]);
    const signals = new NotebookSignals(questions, time);
    if (progress.students.length === 0) {
      root.replaceChildren(
        el('p', {
          class: 'muted hm-empty',
          text: 'Nobody in this team has run a cell of this notebook yet.'
        })
      );
      return;
    }
    root.replaceChildren(
      this.mode.value === 'aggregate'
        ? aggregate(progress, signals)
        : matrix(
            progress,
            root.clientWidth,
            this.openStudent,
            this.zoom,
            signals
          )
    );
  }
}

/** Below this many pixels per column, headers and counts turn vertical. */
const NARROW_COLUMN_PX = 30;
const NAME_COLUMN_PX = 224;

/**
 * Cells × students. The columns share the full width; with many cells the
 * headers and counts are written vertically, so 40 cells × 200 students stay
 * readable at 1920 px. Exported for the tests.
 */
export function matrix(
  progress: IProgress,
  width: number,
  openStudent: (student: string) => void,
  zoom = 1,
  signals: NotebookSignals = new NotebookSignals(null, null)
): HTMLElement {
  const column = Math.max(
    (width - NAME_COLUMN_PX) / Math.max(1, progress.cellCount),
    20 * zoom
  );
  const narrow = column < NARROW_COLUMN_PX;
  const grid = el('div', {
    class: narrow ? 'heatmap hm-narrow' : 'heatmap',
    role: 'table',
    'aria-label': `Cells of ${progress.notebook} by student`
  });
  // Zoomed in, the cells grow (and the grid scrolls under its sticky headers).
  grid.style.setProperty('--hm-zoom', String(zoom));
  grid.style.gridTemplateColumns = `${NAME_COLUMN_PX}px repeat(${progress.cellCount}, minmax(${1.25 * zoom}rem, 1fr))`;
  const byCell = new Map(progress.cells.map(c => [c.cellIndex, c]));
  const total = progress.students.length;
  const header = [
    el('div', { class: 'hm-corner', role: 'columnheader', text: 'Cell' })
  ];
  const reached = [
    el('div', {
      class: 'hm-label hm-reached-label',
      role: 'rowheader',
      text: `Students reached (of ${total})`
    })
  ];
  const passedRow: HTMLElement[] = [
    el('div', {
      class: 'hm-label hm-reached-label',
      role: 'rowheader',
      text: 'Tests passed (of attempted)'
    })
  ];
  const timeRow: HTMLElement[] = [
    el('div', {
      class: 'hm-label hm-reached-label',
      role: 'rowheader',
      text: 'Median time on the cell'
    })
  ];
  for (let i = 0; i < progress.cellCount; i++) {
    const cell = byCell.get(i);
    const names = signals.questionsOf(i);
    header.push(
      el('div', {
        class: names.length ? 'hm-head hm-test' : 'hm-head',
        role: 'columnheader',
        'aria-label': names.length
          ? `cell ${i}, test ${names.join(', ')}`
          : `cell ${i}`,
        title: names.length ? `test: ${names.join(', ')}` : undefined,
        text: String(i)
      })
    );
    passedRow.push(passedCell(signals, i));
    timeRow.push(timeCell(signals, i));
    const count = el('div', {
      class: 'hm-count',
      role: 'cell',
      title: cell
        ? `cell ${i}: ${cell.reached} reached, ${cell.ok} ok, ${cell.failed} failed`
        : `cell ${i}: nobody`,
      text: String(cell?.reached ?? 0)
    });
    count.style.setProperty(
      '--fill',
      String(total ? (cell?.reached ?? 0) / total : 0)
    );
    reached.push(count);
  }
  grid.append(
    el('div', { class: 'hm-row', role: 'row' }, ...header),
    el('div', { class: 'hm-row', role: 'row' }, ...reached)
  );
  if (signals.hasTests) {
    grid.append(
      el('div', { class: 'hm-row hm-tests', role: 'row' }, ...passedRow)
    );
  }
  if (signals.hasTimes) {
    grid.append(
      el('div', { class: 'hm-row hm-times', role: 'row' }, ...timeRow)
    );
  }
  for (const student of progress.students) {
    const name = student.userName || student.student;
    const label = el(
      'button',
      {
        type: 'button',
        class: 'hm-label hm-student',
        role: 'rowheader',
        'data-student': student.student,
        title: student.teamName ? `${name} · ${student.teamName}` : name
      },
      name,
      student.teamName
        ? el('span', { class: 'hm-team', text: ` · ${student.teamName}` })
        : null
    );
    label.addEventListener('click', () => openStudent(student.student));
    const cells: HTMLElement[] = [label];
    for (let i = 0; i < progress.cellCount; i++) {
      cells.push(
        heatCell(student.student, name, i, student.cells[String(i)], signals)
      );
    }
    grid.append(
      el(
        'div',
        { class: 'hm-row', role: 'row', 'data-student': student.student },
        ...cells
      )
    );
  }
  return grid;
}

function heatCell(
  student: string,
  name: string,
  i: number,
  state: 'ok' | 'failed' | undefined,
  signals: NotebookSignals
): HTMLElement {
  const test = signals.state(student, i);
  const questions = signals.questionsOf(i).join(', ');
  if (test || signals.isTestCell(i)) {
    const words =
      test === 'passed'
        ? `passed ${questions}`
        : test === 'test-failed'
          ? `failed ${questions}`
          : `${questions} not run`;
    return el('div', {
      class: `hm-cell ${test ?? 'none'} hm-testcell`,
      role: 'cell',
      title: `${name}, cell ${i}: ${words}`,
      text: test === 'passed' ? '✔' : test === 'test-failed' ? '✘' : ''
    });
  }
  return el('div', {
    class: `hm-cell ${state ?? 'none'}`,
    role: 'cell',
    title: `${name}, cell ${i}: ${state === 'ok' ? 'ran OK' : state === 'failed' ? 'last run failed' : 'not run'}`,
    text: state ? MARK[state] : ''
  });
}

function passedCell(signals: NotebookSignals, i: number): HTMLElement {
  const summary = signals.passSummary(i);
  return el('div', {
    class: 'hm-count hm-pass',
    role: 'cell',
    title: summary
      ? `cell ${i} (${signals.questionsOf(i).join(', ')}): ${summary.passed} of ${summary.attempted} passing`
      : `cell ${i}: no test`,
    text: summary ? `${summary.passed}/${summary.attempted}` : ''
  });
}

function timeCell(signals: NotebookSignals, i: number): HTMLElement {
  const time = signals.time(i);
  return el('div', {
    class: time?.slow ? 'hm-count hm-time hm-slow' : 'hm-count hm-time',
    role: 'cell',
    title: time
      ? `cell ${i}: median ${formatDuration(time.medianSeconds)}, 90 % within ${formatDuration(time.p90Seconds)} (${time.students} students)${time.slow ? ': the class slows down here' : ''}`
      : `cell ${i}: no time recorded`,
    text: time ? shortMinutes(time.medianSeconds) : ''
  });
}

/** Minutes for the narrow time row: "<1", "4", "12". */
function shortMinutes(seconds: number): string {
  return seconds < 60 ? '<1' : String(Math.round(seconds / 60));
}

/** Cells × class: one bar per cell, split into ok / failed / not run. */
function aggregate(
  progress: ProgressOut,
  signals: NotebookSignals
): HTMLElement {
  const total = progress.students.length;
  const list = el('ol', {
    class: 'aggregate',
    'aria-label': `Cells of ${progress.notebook}`
  });
  const byCell = new Map(progress.cells.map(c => [c.cellIndex, c]));
  for (let i = 0; i < progress.cellCount; i++) {
    const cell = byCell.get(i) ?? {
      cellIndex: i,
      reached: 0,
      ok: 0,
      failed: 0
    };
    const bar = el('div', { class: 'agg-bar', 'aria-hidden': 'true' });
    for (const [kind, count] of [
      ['ok', cell.ok],
      ['failed', cell.failed],
      ['none', total - cell.reached]
    ] as const) {
      const part = el('span', { class: `agg-part ${kind}` });
      part.style.flexGrow = String(count);
      bar.append(part);
    }
    list.append(
      el(
        'li',
        { class: 'agg-row', 'data-cell': String(i) },
        el('span', { class: 'agg-label', text: `Cell ${i}` }),
        bar,
        el('span', {
          class: 'agg-text',
          text: aggregateText(cell, total, signals)
        })
      )
    );
  }
  return list;
}

function aggregateText(
  cell: { cellIndex: number; reached: number; ok: number; failed: number },
  total: number,
  signals: NotebookSignals
): string {
  const parts = [
    `${cell.reached}/${total} reached · ${cell.ok} ok · ${cell.failed} failed`
  ];
  const summary = signals.passSummary(cell.cellIndex);
  if (summary) {
    const names = signals.questionsOf(cell.cellIndex).join(', ');
    parts.push(`${names}: ${summary.passed}/${summary.attempted} passed`);
  }
  const time = signals.time(cell.cellIndex);
  if (time) {
    const slow = time.slow ? ' (slow)' : '';
    parts.push(`median ${formatDuration(time.medianSeconds)}${slow}`);
  }
  return parts.join(' · ');
}
