// Run history in the student dialog: every run of one cell, oldest first, with
// what changed since the run before (the server's diff), paged.

import { getJson } from './api.js';
import { diffBlock } from './diffView.js';
import { byId, el, setText, timeOf } from './dom.js';
import { unifiedLines } from './linediff.js';
import type { Run, RunHistory } from './wire.gen.js';

export interface ICellRef {
  student: string;
  notebook: string;
  cellIndex: number;
}

export class RunHistoryPanel {
  private readonly box = byId('detail-history');
  private readonly list = byId<HTMLOListElement>('history-runs');
  private readonly more = byId<HTMLButtonElement>('history-more');
  private cell: ICellRef | null = null;
  private cursor: string | null = null;
  private count = 0;

  constructor() {
    this.more.addEventListener('click', () => void this.load());
    byId('history-close').addEventListener('click', () => this.close());
  }

  async show(cell: ICellRef): Promise<void> {
    this.cell = cell;
    this.cursor = null;
    this.count = 0;
    this.list.replaceChildren();
    setText(
      byId('history-title'),
      `Runs of cell ${cell.cellIndex} · ${cell.notebook}`
    );
    this.box.hidden = false;
    await this.load();
    this.list.querySelector<HTMLElement>('.history-run')?.focus();
  }

  close(): void {
    this.cell = null;
    this.box.hidden = true;
  }

  private async load(): Promise<void> {
    const cell = this.cell;
    if (!cell) {
      return;
    }
    this.more.disabled = true;
    try {
      const page = await getJson<RunHistory>('/api/v1/runs', {
        student: cell.student,
        notebook: cell.notebook,
        cell: cell.cellIndex,
        limit: 20,
        cursor: this.cursor
      });
      if (cell !== this.cell) {
        return;
      }
      for (const run of page.runs) {
        this.count += 1;
        this.list.append(runItem(run, this.count, page.total));
      }
      this.cursor = page.nextCursor;
      this.more.hidden = page.nextCursor === null;
      setText(byId('history-count'), `${this.count} of ${page.total} runs`);
    } finally {
      this.more.disabled = false;
    }
  }
}

function runItem(run: Run, number: number, total: number): HTMLElement {
  const ok = run.outcome === 'ok';
  const label = `Run ${number} of ${total}, ${timeOf(run.eventTime)}, ${ok ? 'ran OK' : `failed with ${run.outcome}`}`;
  return el(
    'li',
    {
      class: `history-run ${ok ? 'run-ok' : 'run-failed'}`,
      tabindex: 0,
      'aria-label': label
    },
    el(
      'div',
      { class: 'run-head' },
      el('span', { class: 'history-number', text: `#${number}` }),
      el('time', { datetime: run.eventTime, text: timeOf(run.eventTime) }),
      el('span', {
        class: `outcome ${ok ? 'ok' : 'failed'}`,
        text: ok ? '✓ ok' : `✕ ${run.outcome}`
      })
    ),
    run.diff === null
      ? el('pre', { class: 'run-code' }, el('code', { text: run.code ?? '' }))
      : run.diff.length
        ? diffBlock(unifiedLines(run.diff), `Changes in run ${number}`)
        : el('p', { class: 'muted', text: 'Ran again unchanged.' }),
    !ok && run.errorMessage
      ? el('p', { class: 'run-error', text: run.errorMessage })
      : null
  );
}
