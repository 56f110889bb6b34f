// The class as the dashboard knows it, and how /ws/dashboard messages change it.
// Pure logic (no DOM): the views ask it what changed and redraw only that.

import type {
  Alert,
  LastError,
  LiveEvent,
  LiveFrame,
  LiveThresholds,
  Status,
  StudentView
} from './wire.gen.js';

/** Priority order: the first is the most urgent. */
export const STATUS_ORDER: readonly Status[] = [
  'help',
  'stuck',
  'quiet',
  'error',
  'away',
  'active',
  'idle'
];

// The wire types are generated (wire.gen.ts); these names are what the views use.
export type ILastError = LastError;
export type IStudent = StudentView;
export type ILiveEvent = LiveEvent;
export type IAlert = Alert;
export type IThresholds = LiveThresholds;
export type Message = LiveFrame;

/** What one frame changed; `reset` means every student may have changed. */
export interface IChanges {
  reset: boolean;
  /** Students whose state changed, including the removed ones. */
  students: Set<string>;
  /** Students erased from the class (their tiles and alerts go). */
  removed: Set<string>;
  events: ILiveEvent[];
  alerts: IAlert[];
}

export function noChanges(): IChanges {
  return {
    reset: false,
    students: new Set(),
    removed: new Set(),
    events: [],
    alerts: []
  };
}

export class ClassState {
  readonly students = new Map<string, StudentView>();
  thresholds: LiveThresholds = {
    stuckAfterErrors: 3,
    activeWindowSeconds: 120,
    quietAfterSeconds: 600,
    awayAfterSeconds: 120
  };
  /** Server clock minus this clock, so "time since" agrees with the server. */
  clockOffsetMs = 0;

  /** Apply a frame (a message or a batch of them); returns what changed. */
  apply(message: LiveFrame, now: number = Date.now()): IChanges {
    const changes = noChanges();
    this.applyInto(message, changes, now);
    return changes;
  }

  private applyInto(message: LiveFrame, changes: IChanges, now: number): void {
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
          changes.removed.delete(message.student.student);
        }
        break;
      case 'student_removed':
        // Erased (`cell-monitor student delete`): gone from every view at once.
        if (this.students.delete(message.studentId)) {
          changes.students.add(message.studentId);
          changes.removed.add(message.studentId);
        }
        changes.alerts = changes.alerts.filter(
          a => a.student !== message.studentId
        );
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
  upsert(student: StudentView): boolean {
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

  isStuck(student: StudentView): boolean {
    return student.consecutiveErrors >= this.thresholds.stuckAfterErrors;
  }

  /**
   * Every status that describes the student: the main one plus an open help
   * request and a stuck streak, which can hold at once (a stuck student who
   * asks for help). The status chips count and filter by these, as the
   * needs-attention panel lists by them, so the two always agree.
   */
  flags(student: IStudent): ReadonlySet<Status> {
    const flags = new Set<Status>([student.status]);
    if (student.helpSince) {
      flags.add('help');
    }
    if (this.isStuck(student)) {
      flags.add('stuck');
    }
    return flags;
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
  students: StudentView[];
}

export function displayName(student: StudentView): string {
  return student.userName || student.student;
}

/**
 * The name to show to a class (projector mode): the display name, never an
 * e-mail address (a student without a name shows the part before the @).
 */
export function publicName(student: {
  student: string;
  userName: string | null;
}): string {
  return student.userName || student.student.split('@')[0];
}

/** "lesson1-pandas" for "course/week1/lesson1-pandas.ipynb". */
export function notebookLabel(path: string | null): string {
  return (path ?? '')
    .split('/')
    .pop()!
    .replace(/\.ipynb$/, '');
}

export type Flags = (student: IStudent) => ReadonlySet<Status>;

/** Without thresholds at hand: the main status only. */
const mainStatus: Flags = student => new Set([student.status]);

export function matches(
  student: IStudent,
  view: IViewOptions,
  flags: Flags = mainStatus
): boolean {
  if (view.team !== null && student.teamName !== view.team) {
    return false;
  }
  if (view.notebook !== null && student.lastNotebook !== view.notebook) {
    return false;
  }
  if (view.statuses !== null) {
    const statuses = view.statuses;
    if (![...flags(student)].some(flag => statuses.has(flag))) {
      return false;
    }
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

// One collator for every sort: String.localeCompare with options builds a
// new one per call, which made sorting 2,000 students take most of a frame.
const NAME_ORDER = new Intl.Collator(undefined, { sensitivity: 'base' });
const TEXT_ORDER = new Intl.Collator();

function byName(a: IStudent, b: IStudent): number {
  return (
    NAME_ORDER.compare(displayName(a), displayName(b)) ||
    TEXT_ORDER.compare(a.student, b.student)
  );
}

/** Help first (longest waiting first), then stuck, error, active, idle. */
function byPriority(a: StudentView, b: StudentView): number {
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

function byRecent(a: StudentView, b: StudentView): number {
  return time(b.lastActivity) - time(a.lastActivity) || byName(a, b);
}

export function comparator(
  sort: SortKey
): (a: StudentView, b: StudentView) => number {
  return sort === 'name' ? byName : sort === 'recent' ? byRecent : byPriority;
}

const NO_TEAM = 'No team';
const NO_NOTEBOOK = 'No notebook yet';

/** The students the view shows, grouped and sorted. */
export function arrange(
  students: Iterable<IStudent>,
  view: IViewOptions,
  flags: Flags = mainStatus
): IGroup[] {
  const compare = comparator(view.sort);
  const groups = new Map<string, IGroup>();
  for (const student of students) {
    if (!matches(student, view, flags)) {
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
      TEXT_ORDER.compare(a.label, b.label)
  );
}

export interface IAttention {
  help: StudentView[];
  stuck: StudentView[];
  /** Editing without a (passing) run for a while: longest first. */
  quiet: StudentView[];
}

/** Open help requests (oldest first) and stuck students (longest streak first). */
export function needsAttention(state: ClassState): IAttention {
  const help: StudentView[] = [];
  const stuck: StudentView[] = [];
  const quiet: StudentView[] = [];
  for (const student of state.students.values()) {
    if (student.status === 'quiet') {
      quiet.push(student);
    }
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
  quiet.sort(
    (a, b) => time(a.editingSince) - time(b.editingSince) || byName(a, b)
  );
  return { help, stuck, quiet };
}

/** How many students each status describes (see ClassState.flags). */
export function countByStatus(
  students: Iterable<IStudent>,
  flags: Flags = mainStatus
): Record<Status, number> {
  const counts: Record<Status, number> = {
    help: 0,
    stuck: 0,
    quiet: 0,
    error: 0,
    away: 0,
    active: 0,
    idle: 0
  };
  for (const student of students) {
    for (const flag of flags(student)) {
      counts[flag] += 1;
    }
  }
  return counts;
}

/** Distinct non-empty values of a field, sorted. */
export function distinct(
  students: Iterable<StudentView>,
  field: 'teamName' | 'lastNotebook'
): string[] {
  const values = new Set<string>();
  for (const student of students) {
    const value = student[field];
    if (value) {
      values.add(value);
    }
  }
  return [...values].sort(TEXT_ORDER.compare);
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

/** "editing cell 5 for 12 min without a passing run" (the quiet status, in words). */
export function quietText(student: StudentView, now: number): string {
  const cell =
    student.editingCellIndex !== null
      ? `cell ${student.editingCellIndex}`
      : 'a cell';
  const minutes = Math.max(
    0,
    Math.floor((now - time(student.editingSince)) / 60000)
  );
  const ran = student.lastError ? 'a passing run' : 'running';
  return `editing ${cell} for ${minutes} min without ${ran}`;
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
