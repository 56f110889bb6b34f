// Student detail: a dialog with the student's live state, help requests,
// sessions and the timeline of executions (code, duration, error, output).

import { download, getJson } from './api.js';
import type { AttentionKind } from './attention.js';
import type { Compose } from './compose.js';
import { byId, el, setText, STATUS_ICON, STATUS_LABEL, timeOf } from './dom.js';
import { ICellRef, RunHistoryPanel } from './history.js';
import {
  ClassState,
  displayName,
  formatWaiting,
  IChanges,
  publicName
} from './state.js';
import type {
  SessionOut,
  StudentDetail,
  TimelineExecution
} from './wire.gen.js';

const HELP_LABEL: Record<string, string> = {
  help: 'asked for help',
  help_stop: 'withdrew the request',
  dismiss_help: 'request dismissed by an instructor',
  claim_help: 'an instructor is on the way',
  release_help: 'the claim was withdrawn',
  handle_stuck: 'marked as handled by an instructor'
};

function duration(ms: number | null): string {
  if (ms === null) {
    return '';
  }
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function historyButton(
  run: TimelineExecution,
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
  run: TimelineExecution,
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

type ISession = SessionOut;

/**
 * "Session 2 · 10:02 – 10:45 (43 min)": sessions numbered in the order they
 * began, instead of the lab's opaque ids (kept as the tooltip).
 */
export function sessionLabels(
  sessions: readonly ISession[]
): { label: string; id: string }[] {
  const ordered = [...sessions].sort(
    (a, b) => Date.parse(a.firstSeen) - Date.parse(b.firstSeen)
  );
  return ordered.map((session, i) => {
    const minutes = Math.round(
      (Date.parse(session.lastSeen) - Date.parse(session.firstSeen)) / 60_000
    );
    const span = minutes >= 1 ? ` (${minutes} min)` : '';
    return {
      label: `Session ${i + 1} · ${timeOf(session.firstSeen)} – ${timeOf(session.lastSeen)}${span}`,
      id: session.sessionId
    };
  });
}

interface ILiveNodes {
  status: HTMLElement;
  icon: HTMLElement;
  statusText: HTMLElement;
  facts: HTMLElement;
  student: HTMLElement;
  team: HTMLElement;
  where: HTMLElement;
  executions: HTMLElement;
  error: HTMLElement;
  gone: HTMLElement;
  help: HTMLButtonElement;
  stuck: HTMLButtonElement;
}

export class DetailDialog {
  private readonly dialog = byId<HTMLDialogElement>('student-dialog');
  private readonly live: ILiveNodes;
  private readonly history = new RunHistoryPanel();
  private student: string | null = null;
  private cursor: string | null = null;
  private projector = false;

  constructor(
    private readonly state: ClassState,
    private readonly act: (
      kind: AttentionKind,
      student: string
    ) => Promise<void>,
    compose?: Compose
  ) {
    byId('detail-message').addEventListener('click', () => {
      const student = this.student;
      if (student && compose) {
        const known = this.state.students.get(student);
        compose(
          { kind: 'students', students: [student] },
          known?.userName || student
        );
      }
    });
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
    this.live = this.buildLive(byId('detail-live'));
  }

  setProjector(on: boolean): void {
    this.projector = on;
    this.renderLive();
  }

  async open(student: string): Promise<void> {
    this.student = student;
    this.cursor = null;
    this.history.close();
    byId('detail-runs').replaceChildren();
    byId('detail-help').replaceChildren();
    byId('detail-sessions').replaceChildren();
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

  /** Built once: updates change text in place, so focus stays put. */
  private buildLive(box: HTMLElement): ILiveNodes {
    const icon = el('span', { 'aria-hidden': 'true' });
    const statusText = el('span');
    const status = el('p', { class: 'detail-status' }, icon, statusText);
    const dd = () => el('dd');
    const student = dd();
    const team = dd();
    const where = dd();
    const executions = dd();
    const error = dd();
    const facts = el(
      'dl',
      { class: 'detail-facts' },
      el('dt', { class: 'personal', text: 'Student' }),
      student,
      el('dt', { text: 'Team' }),
      team,
      el('dt', { text: 'Now in' }),
      where,
      el('dt', { text: 'Executions' }),
      executions,
      el('dt', { text: 'Last error' }),
      error
    );
    student.classList.add('personal');
    const gone = el('p', {
      class: 'detail-gone',
      text: 'This student is no longer in the class: their data was erased.'
    });
    const help = this.actionButton('help', 'Dismiss help request');
    const stuck = this.actionButton('stuck', 'Mark as handled');
    box.replaceChildren(
      status,
      facts,
      gone,
      el('div', { class: 'detail-actions' }, help, stuck)
    );
    return {
      status,
      icon,
      statusText,
      facts,
      student,
      team,
      where,
      executions,
      error,
      gone,
      help,
      stuck
    };
  }

  private renderLive(): void {
    const nodes = this.live;
    const live = this.student
      ? this.state.students.get(this.student)
      : undefined;
    const focused = [nodes.help, nodes.stuck].find(
      b => b === document.activeElement
    );
    nodes.gone.hidden = live !== undefined || this.student === null;
    nodes.status.hidden = nodes.facts.hidden = live === undefined;
    nodes.help.hidden = !live?.helpSince;
    nodes.stuck.hidden = !live || !this.state.isStuck(live);
    if (focused?.hidden) {
      // The action is done (here or elsewhere): the dialog keeps the focus.
      const other = [nodes.help, nodes.stuck].find(b => !b.hidden);
      (other ?? byId('detail-close')).focus();
    }
    if (!live) {
      return;
    }
    setText(
      byId('detail-title'),
      this.projector ? publicName(live) : displayName(live)
    );
    const now = this.state.serverNow();
    nodes.status.className = `detail-status status-${live.status}`;
    setText(nodes.icon, `${STATUS_ICON[live.status]} `);
    setText(
      nodes.statusText,
      STATUS_LABEL[live.status] +
        (live.helpSince
          ? ` — waiting ${formatWaiting(live.helpSince, now)}`
          : '')
    );
    setText(nodes.student, live.student);
    setText(nodes.team, live.teamName ?? '–');
    setText(
      nodes.where,
      `${live.lastNotebook ?? '–'}${live.lastCellIndex !== null ? ` · cell ${live.lastCellIndex}` : ''}`
    );
    setText(nodes.executions, `${live.executions} (${live.errors} failed)`);
    const error = live.lastError;
    setText(
      nodes.error,
      error
        ? `${error.name ?? 'Error'}: ${error.message ?? ''}${live.consecutiveErrors ? ` (×${live.consecutiveErrors} in a row)` : ''}`
        : '–'
    );
  }

  private actionButton(kind: AttentionKind, label: string): HTMLButtonElement {
    const button = el('button', {
      type: 'button',
      class: 'attention-action',
      'data-action': kind,
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
      const detail = await getJson<StudentDetail>('/api/v1/students/detail', {
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

  private renderHistory(detail: StudentDetail): void {
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
        ? sessionLabels(detail.sessions).map(s =>
            el('li', { title: `Session id ${s.id}`, text: s.label })
          )
        : [el('li', { class: 'muted', text: 'No sessions.' })])
    );
  }
}
