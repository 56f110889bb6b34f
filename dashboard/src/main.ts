// The instructor dashboard: wires the live feed to the views.

import { ActivityView } from './activity.js';
import { Alerts } from './alerts.js';
import { getJson, postJson, studentPath, withQuery } from './api.js';
import { AttentionKind, AttentionPanel } from './attention.js';
import { DetailDialog } from './detail.js';
import { ComposeDialog } from './compose.js';
import { byId, setText } from './dom.js';
import { HelpDesk } from './helpDesk.js';
import { HotspotsView } from './hotspots.js';
import { MessagesView } from './messages.js';
import { CodeView } from './clusters.js';
import { bindShortcuts } from './keys.js';
import { Overview } from './overview.js';
import {
  bindToggle,
  currentTheme,
  projectorOn,
  setProjector,
  setTheme
} from './prefs.js';
import { ProgressView } from './progress.js';
import { ReplayView } from './replay.js';
import { ConnectionState, LiveSocket, socketUrl } from './socket.js';
import {
  ClassState,
  DEFAULT_VIEW,
  distinct,
  Message,
  needsAttention,
  noChanges
} from './state.js';
import type { AccountOut, StudentView } from './wire.gen.js';

const VIEWS = [
  'class',
  'progress',
  'errors',
  'activity',
  'code',
  'replay',
  'messages'
] as const;
export type ViewName = (typeof VIEWS)[number];

class Dashboard {
  private readonly state = new ClassState();
  private readonly overview: Overview;
  private readonly attention: AttentionPanel;
  private readonly helpDesk: HelpDesk;
  private readonly alerts: Alerts;
  private readonly detail: DetailDialog;
  private readonly progress: ProgressView;
  private readonly hotspots: HotspotsView;
  private readonly activity: ActivityView;
  private readonly code: CodeView;
  private readonly replay: ReplayView;
  private readonly compose: ComposeDialog;
  private readonly messages: MessagesView;
  readonly socket: LiveSocket;
  private frame = 0;
  private afterSnapshot = false;
  private measured = 0;
  private showTheme: () => void = () => undefined;
  private showProjector: () => void = () => undefined;
  current: ViewName = 'class';

  constructor() {
    const open = (student: string) => this.detail.open(student);
    this.compose = new ComposeDialog(() => this.messages.onChanged());
    const compose = this.compose.open;
    this.messages = new MessagesView(compose, () =>
      distinct(this.state.students.values(), 'teamName')
    );
    this.overview = new Overview(this.state, DEFAULT_VIEW, open, () =>
      this.schedule()
    );
    this.helpDesk = new HelpDesk(
      byId('help-figures'),
      byId<HTMLInputElement>('help-mine'),
      () => this.schedule()
    );
    this.attention = new AttentionPanel(byId('attention'), {
      act: (kind, student) => void this.act(kind, student),
      open,
      claim: (student, takeOver) => void this.claim(student, takeOver),
      me: () => this.helpDesk.me,
      hintStuck: student => {
        const cell = student.lastError?.cellIndex ?? null;
        const notebook = student.lastNotebook;
        const where =
          cell !== null
            ? `cell ${cell}${notebook ? ` of ${notebook}` : ''}`
            : 'any cell';
        compose(
          { kind: 'stuck', notebook, cellIndex: cell },
          `every student stuck on ${where}`
        );
      }
    });
    this.alerts = new Alerts(
      byId('notice'),
      byId('live-region'),
      byId<HTMLInputElement>('sound-toggle')
    );
    this.detail = new DetailDialog(
      this.state,
      (kind, student) => this.act(kind, student),
      compose
    );
    this.progress = new ProgressView(open, () =>
      distinct(this.state.students.values(), 'teamName')
    );
    this.hotspots = new HotspotsView(open, compose);
    this.activity = new ActivityView();
    this.code = new CodeView(open, compose);
    this.replay = new ReplayView(open);
    this.socket = new LiveSocket(
      () => socketUrl(window.location, '/ws/dashboard'),
      message => this.onMessage(message),
      state => this.showConnection(state)
    );
    byId('reconnect').addEventListener('click', () =>
      this.socket.reconnectNow()
    );
    for (const tab of document.querySelectorAll<HTMLButtonElement>(
      '[data-view]'
    )) {
      tab.addEventListener('click', () =>
        this.show(tab.dataset.view as ViewName)
      );
    }
    window.addEventListener('hashchange', () => this.show(viewFromHash()));
    this.bindDisplayToggles();
    setInterval(() => this.tick(), 1000);
  }

  private bindDisplayToggles(): void {
    this.showTheme = bindToggle(
      byId<HTMLButtonElement>('theme-toggle'),
      () => currentTheme() === 'dark',
      () => setTheme(currentTheme() === 'dark' ? 'light' : 'dark')
    );
    // Until a theme is chosen here, the button follows the system's.
    window
      .matchMedia?.('(prefers-color-scheme: dark)')
      .addEventListener?.('change', () => this.showTheme());
    this.showProjector = bindToggle(
      byId<HTMLButtonElement>('projector-toggle'),
      projectorOn,
      () => this.applyProjector(!projectorOn())
    );
    this.applyProjector(projectorOn());
  }

  toggleTheme(): void {
    setTheme(currentTheme() === 'dark' ? 'light' : 'dark');
    this.showTheme();
  }

  toggleProjector(): void {
    this.applyProjector(!projectorOn());
    this.showProjector();
  }

  /** Projector mode: large type, attention first, names only (see CSS). */
  private applyProjector(on: boolean): void {
    setProjector(on);
    this.overview.setProjector(on);
    this.attention.setProjector(on);
    this.detail.setProjector(on);
    this.schedule();
  }

  start(): void {
    this.show(viewFromHash());
    this.socket.connect();
    void this.showAccount();
    void this.helpDesk.start();
  }

  /** The signed-in instructor's name, next to the sign-out button. */
  async showAccount(): Promise<void> {
    try {
      const account = await getJson<AccountOut>('/api/v1/me');
      setText(byId('account-name'), account.username);
    } catch {
      // Signed out: getJson has already sent the browser to the sign-in page.
    }
  }

  show(view: ViewName): void {
    this.current = view;
    for (const name of VIEWS) {
      byId(`view-${name}`).hidden = name !== view;
      const tab = document.querySelector(`[data-view="${name}"]`);
      tab?.setAttribute('aria-selected', String(name === view));
    }
    if (window.location.hash !== `#${view}`) {
      history.replaceState(null, '', `#${view}`);
    }
    this.progress.setVisible(view === 'progress');
    this.hotspots.setVisible(view === 'errors');
    this.activity.setVisible(view === 'activity');
    this.code.setVisible(view === 'code');
    this.replay.setVisible(view === 'replay');
    this.messages.setVisible(view === 'messages');
  }

  focusAttention(): void {
    const first = this.attention.first();
    if (first) {
      first.focus();
    } else {
      byId('attention').focus();
    }
  }

  /** Dismiss/handle the request whose item (or its student's dialog) has focus. */
  actOnFocused(kind: AttentionKind): void {
    const item =
      document.activeElement?.closest<HTMLElement>('.attention-item');
    const student = item?.dataset.student;
    if (student && item.classList.contains(`attention-${kind}`)) {
      void this.act(kind, student, item);
    }
  }

  async act(
    kind: AttentionKind,
    student: string,
    item?: HTMLElement
  ): Promise<void> {
    const action = kind === 'help' ? 'help/dismiss' : 'stuck/handled';
    try {
      const updated = await postJson<StudentView>(studentPath(student, action));
      // The feed brings the same state; showing it now makes the click feel instant.
      if (this.state.upsert(updated)) {
        const changes = noChanges();
        changes.students.add(student);
        this.overview.note(changes);
        this.detail.onChanges(changes);
        this.schedule();
      }
    } catch (error) {
      setText(
        byId('live-region'),
        `Could not update ${student}: ${String(error)}`
      );
    }
  }

  /** "On my way": the student sees who is coming; every dashboard shows it. */
  async claim(student: string, takeOver: boolean): Promise<void> {
    try {
      const path = withQuery('/api/v1/help/claim', {
        student,
        ...(takeOver ? { takeOver: 'true' } : {})
      });
      this.applyUpdate(student, await postJson<StudentView>(path));
    } catch (error) {
      setText(
        byId('live-region'),
        `Could not claim ${student}: ${String(error)}`
      );
    }
  }

  private applyUpdate(student: string, updated: StudentView): void {
    if (this.state.upsert(updated)) {
      const changes = noChanges();
      changes.students.add(student);
      this.overview.note(changes);
      this.detail.onChanges(changes);
      this.schedule();
    }
  }

  get overviewView(): Overview {
    return this.overview;
  }

  toggleSound(): void {
    this.alerts.setSound(!this.alerts.sound);
  }

  private onMessage(message: Message): void {
    if (message.type === 'snapshot') {
      performance.mark('snapshot-received');
    }
    if (mentionsMessages(message)) {
      this.messages.onChanged();
    }
    const changes = this.state.apply(message);
    if (changes.reset) {
      this.afterSnapshot = true;
    }
    this.overview.note(changes);
    for (const alert of changes.alerts) {
      if (alert.kind === 'help' && alert.action === 'raised') {
        this.alerts.helpRaised(alert);
      }
    }
    if (changes.alerts.some(alert => alert.kind === 'help')) {
      void this.helpDesk.refreshStats();
    }
    if (changes.removed.size) {
      this.alerts.forget(changes.removed);
    }
    // An erased student leaves the heatmap and the hotspots too: refetch them.
    const refetch = changes.reset || changes.removed.size > 0;
    if (changes.events.length || refetch) {
      this.progress.onEvents(changes.events, refetch);
      this.hotspots.onEvents(changes.events, refetch);
      this.activity.onEvents(changes.events);
    }
    this.detail.onChanges(changes);
    if (changes.reset || changes.students.size) {
      this.schedule();
    }
  }

  private schedule(): void {
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    }
  }

  private render(): void {
    // Marks for benchmarks/dashboard_render.py (a few bytes per frame).
    performance.mark('render-start');
    const now = this.state.serverNow();
    this.overview.render(now);
    const attention = needsAttention(this.state);
    this.attention.render(attention, now, this.helpDesk.shown(attention.help));
    const help = attention.help.length;
    document.title = `${help ? `(${help}) ` : ''}cell-monitor · Instructor dashboard`;
    performance.measure('dashboard-render', 'render-start');
    performance.clearMarks('render-start');
    // Bounded: a day of frames must not pile up in the page.
    if (++this.measured % 1000 === 0) {
      performance.clearMeasures('dashboard-render');
    }
    if (this.afterSnapshot) {
      this.afterSnapshot = false;
      performance.measure('snapshot-rendered', 'snapshot-received');
      // After the browser's style, layout and paint of this frame.
      requestAnimationFrame(() =>
        setTimeout(() =>
          performance.measure('snapshot-painted', 'snapshot-received')
        )
      );
    }
  }

  private tick(): void {
    const now = this.state.serverNow();
    this.attention.tick(now);
    this.overview.tick(now);
  }

  private showConnection(state: ConnectionState): void {
    const box = byId('connection');
    box.dataset.state = state.kind;
    byId('reconnect').hidden =
      state.kind !== 'offline' && state.kind !== 'waiting';
    let text = 'Live';
    if (state.kind === 'connecting') {
      text = state.attempt
        ? `Reconnecting (attempt ${state.attempt})…`
        : 'Connecting…';
    } else if (state.kind === 'waiting') {
      const seconds = Math.max(
        1,
        Math.round((state.retryAt - Date.now()) / 1000)
      );
      text = `Disconnected: retrying in ${seconds} s`;
    } else if (state.kind === 'offline') {
      text = 'Offline: updates stopped';
    }
    setText(byId('connection-text'), text);
  }
}

/** Whether a frame says that sent messages' receipts or replies changed. */
function mentionsMessages(message: Message): boolean {
  return message.type === 'batch'
    ? message.messages.some(m => m.type === 'messages_changed')
    : message.type === 'messages_changed';
}

function viewFromHash(): ViewName {
  const name = window.location.hash.slice(1);
  return (VIEWS as readonly string[]).includes(name)
    ? (name as ViewName)
    : 'class';
}

const dashboard = new Dashboard();
bindShortcuts({
  focusFilter: () => {
    dashboard.show('class');
    dashboard.overviewView.focusFilter();
  },
  focusAttention: () => dashboard.focusAttention(),
  dismissFocused: () => dashboard.actOnFocused('help'),
  handleFocused: () => dashboard.actOnFocused('stuck'),
  showView: index => dashboard.show(VIEWS[index]),
  cycleGroup: () => dashboard.overviewView.cycleGroup(),
  cycleSort: () => dashboard.overviewView.cycleSort(),
  toggleSound: () => dashboard.toggleSound(),
  toggleTheme: () => dashboard.toggleTheme(),
  toggleProjector: () => dashboard.toggleProjector(),
  reconnect: () => dashboard.socket.reconnectNow(),
  exportCsv: () => void dashboard.overviewView.exportCsv()
});
dashboard.start();
