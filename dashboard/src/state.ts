// The class as the dashboard knows it, and how /ws/dashboard messages change it.
// Pure logic (no DOM): the views ask it what changed and redraw only that.

export type Status = 'help' | 'stuck' | 'error' | 'active' | 'idle';

/** Priority order: the first is the most urgent. */
export const STATUS_ORDER: readonly Status[] = [
  'help',
  'stuck',
  'error',
  'active',
  'idle'
];

export interface ILastError {
  name: string | null;
  message: string | null;
  at: string | null;
  cellIndex: number | null;
}

export interface IStudent {
  student: string;
  userName: string | null;
  teamName: string | null;
  status: Status;
  lastActivity: string | null;
  lastNotebook: string | null;
  lastCellIndex: number | null;
  lastCellId: string | null;
  events: number;
  executions: number;
  errors: number;
  consecutiveErrors: number;
  lastError: ILastError | null;
  helpSince: string | null;
  version: number;
}

export interface ILiveEvent {
  eventId: string;
  eventType: string;
  eventTime: string | null;
  student: string;
  userName: string | null;
  teamName: string | null;
  notebookPath: string | null;
  cellIndex: number | null;
  cellId: string | null;
  hasError: boolean | null;
  errorName: string | null;
  errorMessage: string | null;
  executionDurationMs: number | null;
}

export interface IAlert {
  kind: 'help' | 'stuck';
  action: 'raised' | 'cleared';
  student: string;
  userName: string | null;
  teamName: string | null;
  notebook: string | null;
  since: string | null;
  errorName: string | null;
  errorMessage: string | null;
  consecutiveErrors: number;
  at: string;
  by: 'student' | 'instructor';
}

export interface IThresholds {
  stuckAfterErrors: number;
  activeWindowSeconds: number;
}

export type Message =
  | {
      type: 'snapshot';
      serverTime: string;
      thresholds: IThresholds;
      students: IStudent[];
    }
  | { type: 'student'; student: IStudent }
  | { type: 'event'; event: ILiveEvent }
  | { type: 'alert'; alert: IAlert }
  | { type: 'heartbeat'; serverTime: string }
  | { type: 'batch'; messages: Message[] };

/** What one frame changed; `reset` means every student may have changed. */
export interface IChanges {
  reset: boolean;
  students: Set<string>;
  events: ILiveEvent[];
  alerts: IAlert[];
}

export function noChanges(): IChanges {
  return { reset: false, students: new Set(), events: [], alerts: [] };
}

export class ClassState {
  readonly students = new Map<string, IStudent>();
  thresholds: IThresholds = { stuckAfterErrors: 3, activeWindowSeconds: 120 };
  /** Server clock minus this clock, so "time since" agrees with the server. */
  clockOffsetMs = 0;

  /** Apply a frame (a message or a batch of them); returns what changed. */
  apply(message: Message, now: number = Date.now()): IChanges {
    const changes = noChanges();
    this.applyInto(message, changes, now);
    return changes;
  }

  private applyInto(message: Message, changes: IChanges, now: number): void {
    switch (message.type) {
      case 'batch':
        for (const inner of message.messages) {
          this.applyInto(inner, changes, now);
        }
        break;
      case 'snapshot':
        this.students.clear();
        for (const student of message.students) {
          this.students.set(student.student, student);
        }
        this.thresholds = message.thresholds;
        this.setClock(message.serverTime, now);
        changes.reset = true;
        break;
      case 'student':
        if (this.upsert(message.student)) {
          changes.students.add(message.student.student);
        }
        break;
      case 'event':
        changes.events.push(message.event);
        break;
      case 'alert':
        changes.alerts.push(message.alert);
        break;
      case 'heartbeat':
        this.setClock(message.serverTime, now);
        break;
    }
  }

  /** Keep the newer of two states of a student (messages may cross). */
  upsert(student: IStudent): boolean {
    const known = this.students.get(student.student);
    if (known && known.version > student.version) {
      return false;
    }
    // Same version: an idle sweep re-sends a state whose status has aged.
    this.students.set(student.student, student);
    return true;
  }

  private setClock(serverTime: string, now: number): void {
    const server = Date.parse(serverTime);
    if (!Number.isNaN(server)) {
      this.clockOffsetMs = server - now;
    }
  }

  serverNow(now: number = Date.now()): number {
    return now + this.clockOffsetMs;
  }

  isStuck(student: IStudent): boolean {
    return student.consecutiveErrors >= this.thresholds.stuckAfterErrors;
  }
}

export type SortKey = 'priority' | 'name' | 'recent';
export type GroupKey = 'none' | 'team' | 'notebook';

export interface IViewOptions {
  text: string;
  team: string | null;
  notebook: string | null;
  statuses: ReadonlySet<Status> | null;
  sort: SortKey;
  group: GroupKey;
}

export const DEFAULT_VIEW: IViewOptions = {
  text: '',
  team: null,
  notebook: null,
  statuses: null,
  sort: 'priority',
  group: 'none'
};

export interface IGroup {
  key: string;
  label: string;
  students: IStudent[];
}

export function displayName(student: IStudent): string {
  return student.userName || student.student;
}

export function matches(student: IStudent, view: IViewOptions): boolean {
  if (view.team !== null && student.teamName !== view.team) {
    return false;
  }
  if (view.notebook !== null && student.lastNotebook !== view.notebook) {
    return false;
  }
  if (view.statuses !== null && !view.statuses.has(student.status)) {
    return false;
  }
  const text = view.text.trim().toLowerCase();
  if (!text) {
    return true;
  }
  return [
    student.student,
    student.userName,
    student.teamName,
    student.lastNotebook
  ]
    .filter((v): v is string => !!v)
    .some(v => v.toLowerCase().includes(text));
}

function time(value: string | null): number {
  const parsed = value ? Date.parse(value) : NaN;
  return Number.isNaN(parsed) ? 0 : parsed;
}

function byName(a: IStudent, b: IStudent): number {
  return (
    displayName(a).localeCompare(displayName(b), undefined, {
      sensitivity: 'base'
    }) || a.student.localeCompare(b.student)
  );
}

/** Help first (longest waiting first), then stuck, error, active, idle. */
function byPriority(a: IStudent, b: IStudent): number {
  const rank = STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status);
  if (rank !== 0) {
    return rank;
  }
  if (a.status === 'help') {
    return time(a.helpSince) - time(b.helpSince) || byName(a, b);
  }
  if (a.status === 'stuck') {
    return b.consecutiveErrors - a.consecutiveErrors || byName(a, b);
  }
  return byName(a, b);
}

function byRecent(a: IStudent, b: IStudent): number {
  return time(b.lastActivity) - time(a.lastActivity) || byName(a, b);
}

export function comparator(
  sort: SortKey
): (a: IStudent, b: IStudent) => number {
  return sort === 'name' ? byName : sort === 'recent' ? byRecent : byPriority;
}

const NO_TEAM = 'No team';
const NO_NOTEBOOK = 'No notebook yet';

/** The students the view shows, grouped and sorted. */
export function arrange(
  students: Iterable<IStudent>,
  view: IViewOptions
): IGroup[] {
  const compare = comparator(view.sort);
  const groups = new Map<string, IGroup>();
  for (const student of students) {
    if (!matches(student, view)) {
      continue;
    }
    let key = '';
    let label = 'All students';
    if (view.group === 'team') {
      key = student.teamName ?? '';
      label = student.teamName ?? NO_TEAM;
    } else if (view.group === 'notebook') {
      key = student.lastNotebook ?? '';
      label = student.lastNotebook ?? NO_NOTEBOOK;
    }
    let group = groups.get(key);
    if (!group) {
      group = { key, label, students: [] };
      groups.set(key, group);
    }
    group.students.push(student);
  }
  const result = [...groups.values()];
  for (const group of result) {
    group.students.sort(compare);
  }
  // Unnamed groups last; the others by name.
  return result.sort(
    (a, b) =>
      Number(a.key === '') - Number(b.key === '') ||
      a.label.localeCompare(b.label)
  );
}

export interface IAttention {
  help: IStudent[];
  stuck: IStudent[];
}

/** Open help requests (oldest first) and stuck students (longest streak first). */
export function needsAttention(state: ClassState): IAttention {
  const help: IStudent[] = [];
  const stuck: IStudent[] = [];
  for (const student of state.students.values()) {
    if (student.helpSince) {
      help.push(student);
    }
    if (state.isStuck(student)) {
      stuck.push(student);
    }
  }
  help.sort((a, b) => time(a.helpSince) - time(b.helpSince) || byName(a, b));
  stuck.sort(
    (a, b) =>
      b.consecutiveErrors - a.consecutiveErrors ||
      time(a.lastError?.at ?? null) - time(b.lastError?.at ?? null) ||
      byName(a, b)
  );
  return { help, stuck };
}

export function countByStatus(
  students: Iterable<IStudent>
): Record<Status, number> {
  const counts: Record<Status, number> = {
    help: 0,
    stuck: 0,
    error: 0,
    active: 0,
    idle: 0
  };
  for (const student of students) {
    counts[student.status] += 1;
  }
  return counts;
}

/** Distinct non-empty values of a field, sorted. */
export function distinct(
  students: Iterable<IStudent>,
  field: 'teamName' | 'lastNotebook'
): string[] {
  const values = new Set<string>();
  for (const student of students) {
    const value = student[field];
    if (value) {
      values.add(value);
    }
  }
  return [...values].sort((a, b) => a.localeCompare(b));
}

/** "now", "45s", "12m", "3h", "2d": short enough for a tile. */
export function formatAgo(since: string | null, now: number): string {
  if (!since) {
    return '–';
  }
  const seconds = Math.max(0, Math.floor((now - time(since)) / 1000));
  if (seconds < 10) {
    return 'now';
  }
  if (seconds < 60) {
    return `${seconds}s`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m`;
  }
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)}h`;
  }
  return `${Math.floor(seconds / 86400)}d`;
}

/** "4 min 05 s": for waiting times, which matter to the second early on. */
export function formatWaiting(since: string | null, now: number): string {
  if (!since) {
    return '';
  }
  const seconds = Math.max(0, Math.floor((now - time(since)) / 1000));
  if (seconds < 60) {
    return `${seconds} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}
