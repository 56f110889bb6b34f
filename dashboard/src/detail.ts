// Student detail: a dialog with the student's live state, help requests,
// sessions and the timeline of executions (code, duration, error, output).

import { download, getJson } from './api.js';
import type { AttentionKind } from './attention.js';
import { byId, el, STATUS_ICON, STATUS_LABEL, timeOf } from './dom.js';
import { ICellRef, RunHistoryPanel } from './history.js';
import { ClassState, displayName, formatWaiting, IChanges } from './state.js';

interface IExecution {
  eventId: string;
  eventTime: string;
  notebookPath: string | null;
  cellIndex: number | null;
  executionCount: number | null;
  code: string | null;
  durationMs: number | null;
  hasError: boolean;
  errorName: string | null;
  errorMessage: string | null;
  outputSummary: string | null;
}

interface IDetail {
  student: string;
  userName: string | null;
  teamName: string | null;
  emailAddress: string | null;
  firstSeen: string;
  lastActivity: string;
  executions: IExecution[];
  nextCursor: string | null;
  help: { at: string; kind: string; by: string }[];
  sessions: { sessionId: string; firstSeen: string; lastSeen: string }[];
}

const HELP_LABEL: Record<string, string> = {
  help: 'asked for help',
  help_stop: 'withdrew the request',
  dismiss_help: 'request dismissed by an instructor',
  handle_stuck: 'marked as handled by an instructor'
};

function duration(ms: number | null): string {
  if (ms === null) {
    return '';
  }
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function historyButton(
  run: IExecution,
  student: string,
  show: (cell: ICellRef) => void
): HTMLElement | null {
  if (run.notebookPath === null || run.cellIndex === null) {
    return null;
  }
  const cell = {
    student,
    notebook: run.notebookPath,
    cellIndex: run.cellIndex
  };
  const button = el('button', {
    type: 'button',
    class: 'small run-history',
    text: 'All runs of this cell'
  });
  button.addEventListener('click', () => show(cell));
  return button;
}

function executionItem(
  run: IExecution,
  history: HTMLElement | null
): HTMLElement {
  const where = `${run.notebookPath ?? '?'} · cell ${run.cellIndex ?? '?'}`;
  const outcome = run.hasError
    ? el('span', { class: 'outcome failed', text: '✕ failed' })
    : el('span', { class: 'outcome ok', text: '✓ ok' });
  return el(
    'li',
    { class: `run ${run.hasError ? 'run-failed' : 'run-ok'}` },
    el(
      'div',
      { class: 'run-head' },
      el('time', { datetime: run.eventTime, text: timeOf(run.eventTime) }),
      outcome,
      el('span', { class: 'run-where', text: where }),
      el('span', { class: 'run-duration', text: duration(run.durationMs) }),
      history
    ),
    run.code
      ? el('pre', { class: 'run-code' }, el('code', { text: run.code }))
      : null,
    run.hasError
      ? el('p', {
          class: 'run-error',
          text: `${run.errorName ?? 'Error'}: ${run.errorMessage ?? ''}`
        })
      : null,
    run.outputSummary
      ? el('pre', { class: 'run-output', text: run.outputSummary })
      : null
  );
}

export class DetailDialog {
  private readonly dialog = byId<HTMLDialogElement>('student-dialog');
  private readonly history = new RunHistoryPanel();
  private student: string | null = null;
  private cursor: string | null = null;

  constructor(
    private readonly state: ClassState,
    private readonly act: (
      kind: AttentionKind,
      student: string
    ) => Promise<void>
  ) {
    byId('detail-close').addEventListener('click', () => this.dialog.close());
    byId('detail-more').addEventListener('click', () => void this.loadMore());
    byId('detail-export').addEventListener('click', () => {
      if (this.student) {
        void download('/api/v1/export/executions.csv', {
          student: this.student
        });
      }
    });
    this.dialog.addEventListener('close', () => {
      this.student = null;
    });
  }

  async open(student: string): Promise<void> {
    this.student = student;
    this.cursor = null;
    this.history.close();
    byId('detail-runs').replaceChildren();
    byId('detail-title').textContent = student;
    this.renderLive();
    if (!this.dialog.open) {
      this.dialog.showModal();
    }
    await this.loadMore();
  }

  /** Keep the live part current while the dialog is open. */
  onChanges(changes: IChanges): void {
    if (this.student && (changes.reset || changes.students.has(this.student))) {
      this.renderLive();
    }
  }

  private renderLive(): void {
    const live = this.student
      ? this.state.students.get(this.student)
      : undefined;
    const box = byId('detail-live');
    if (!live) {
      box.replaceChildren();
      return;
    }
    byId('detail-title').textContent = displayName(live);
    const now = this.state.serverNow();
    const actions = el('div', { class: 'detail-actions' });
    if (live.helpSince) {
      actions.append(this.actionButton('help', 'Dismiss help request'));
    }
    if (this.state.isStuck(live)) {
      actions.append(this.actionButton('stuck', 'Mark as handled'));
    }
    const error = live.lastError;
    box.replaceChildren(
      el(
        'p',
        { class: `detail-status status-${live.status}` },
        el('span', {
          'aria-hidden': 'true',
          text: `${STATUS_ICON[live.status]} `
        }),
        STATUS_LABEL[live.status],
        live.helpSince ? ` — waiting ${formatWaiting(live.helpSince, now)}` : ''
      ),
      el(
        'dl',
        { class: 'detail-facts' },
        el('dt', { text: 'Student' }),
        el('dd', { text: live.student }),
        el('dt', { text: 'Team' }),
        el('dd', { text: live.teamName ?? '–' }),
        el('dt', { text: 'Now in' }),
        el('dd', {
          text: `${live.lastNotebook ?? '–'}${live.lastCellIndex !== null ? ` · cell ${live.lastCellIndex}` : ''}`
        }),
        el('dt', { text: 'Executions' }),
        el('dd', { text: `${live.executions} (${live.errors} failed)` }),
        el('dt', { text: 'Last error' }),
        el('dd', {
          text: error
            ? `${error.name ?? 'Error'}: ${error.message ?? ''}${live.consecutiveErrors ? ` (×${live.consecutiveErrors} in a row)` : ''}`
            : '–'
        })
      ),
      actions
    );
  }

  private actionButton(kind: AttentionKind, label: string): HTMLButtonElement {
    const button = el('button', {
      type: 'button',
      class: 'attention-action',
      text: label
    });
    button.addEventListener('click', () => {
      if (this.student) {
        void this.act(kind, this.student);
      }
    });
    return button;
  }

  private async loadMore(): Promise<void> {
    const student = this.student;
    if (!student) {
      return;
    }
    const more = byId<HTMLButtonElement>('detail-more');
    more.disabled = true;
    try {
      // The id in the query string, as for every student action (api.ts).
      const detail = await getJson<IDetail>('/api/v1/students/detail', {
        student,
        limit: 50,
        cursor: this.cursor
      });
      if (student !== this.student) {
        return;
      }
      if (this.cursor === null) {
        this.renderHistory(detail);
      }
      this.cursor = detail.nextCursor;
      const show = (cell: ICellRef) => void this.history.show(cell);
      byId('detail-runs').append(
        ...detail.executions.map(run =>
          executionItem(run, historyButton(run, student, show))
        )
      );
      byId('detail-runs-empty').hidden =
        byId('detail-runs').childElementCount > 0;
      more.hidden = detail.nextCursor === null;
    } finally {
      more.disabled = false;
    }
  }

  private renderHistory(detail: IDetail): void {
    byId('detail-help').replaceChildren(
      ...(detail.help.length
        ? detail.help.map(entry =>
            el(
              'li',
              {},
              el('time', { datetime: entry.at, text: timeOf(entry.at) }),
              ` ${HELP_LABEL[entry.kind] ?? entry.kind}`
            )
          )
        : [el('li', { class: 'muted', text: 'No help requests.' })])
    );
    byId('detail-sessions').replaceChildren(
      ...(detail.sessions.length
        ? detail.sessions.map(s =>
            el('li', {
              text: `${s.sessionId}: ${timeOf(s.firstSeen)} – ${timeOf(s.lastSeen)}`
            })
          )
        : [el('li', { class: 'muted', text: 'No sessions.' })])
    );
  }
}
