// Generated from the models in cell_monitor/contract by scripts/generate_wire_types.py:
// do not edit. After changing a model, regenerate with `npm run generate:types`.
/**
 * A cell's activity since the previous report: counts and durations only.
 */
export interface CellActivity {
  cellId?: string | null;
  cellIndex?: number | null;
  /**
   * Content changes (not their text).
   */
  edits?: number;
  /**
   * Time the cell was active, visible, not idle.
   */
  activeMs?: number;
}
/**
 * The class server the student entered in the settings, when the operator set none.
 */
export interface ClientTarget {
  serverUrl: string;
  ingestToken: string;
}
/**
 * What the last attempt to deliver found (`state` in cell-monitor/status).
 */
export type DeliveryState =
  | 'ok'
  | 'refused'
  | 'wrong_url'
  | 'unreachable'
  | 'server_error'
  | 'internal_error';
/**
 * One event as a student's JupyterLab sends it.
 */
export interface EventIn {
  /**
   * Client UUID; idempotency key.
   */
  eventId?: string | null;
  eventType: string;
  /**
   * ISO 8601; no offset means UTC.
   */
  eventTime?: string | null;
  emailAddress?: string | null;
  userId?: string | null;
  userName?: string | null;
  teamName?: string | null;
  sessionId?: string | null;
  notebookPath?: string | null;
  cellId?: string | null;
  cellIndex?: number | null;
  cellType?: string | null;
  code?: string | null;
  executionCount?: number | null;
  hasError?: boolean | null;
  errorName?: string | null;
  errorMessage?: string | null;
  traceback?: string | string[] | null;
  result?: string | null;
  executionDurationMs?: number | null;
  /**
   * On cell_executed of a test cell.
   */
  tests?: TestOutcome[] | null;
  /**
   * On engagement: the notebook is visible.
   */
  visible?: boolean | null;
  /**
   * On engagement: no input for a while.
   */
  idle?: boolean | null;
  /**
   * On engagement: activity per cell.
   */
  cells?: CellActivity[] | null;
  /**
   * On engagement: the oldest reported edit was this long before the event.
   */
  editingMs?: number | null;
  /**
   * On cell_executed: its edits.
   */
  edits?: number | null;
  /**
   * On cell_executed: its active time.
   */
  activeMs?: number | null;
  [k: string]: unknown;
}
/**
 * The event types the system knows; others are stored as they come.
 */
export type EventType =
  | 'cell_executed'
  | 'notebook_opened'
  | 'notebook_saved'
  | 'notebook_closed'
  | 'help'
  | 'help_stop'
  | 'engagement';
/**
 * What POST /api/v1/events answers (202).
 */
export interface IngestResponse {
  /**
   * Events stored by this request.
   */
  accepted: number;
  /**
   * Events whose eventId was already stored.
   */
  duplicates: number;
  /**
   * Accepted events whose long text was shortened.
   */
  truncated: number;
  /**
   * Accepted events dated later than their receipt (plus the allowed clock skew): stored at the receipt time, the client's eventTime kept as metadata.
   */
  clockAdjusted: number;
  rejected: RejectedEvent[];
}
/**
 * What GET cell-monitor/status answers: delivery state for the status bar.
 */
export interface LabStatus {
  enabled: boolean;
  /**
   * The class server URL is known.
   */
  configured: boolean;
  /**
   * Where events go.
   */
  serverUrl: string | null;
  /**
   * JupyterHub user name when on a hub.
   */
  hubUser: string | null;
  /**
   * How the class server learns whose events these are (null: no server).
   */
  identity: ('hub' | 'credential' | 'declared') | null;
  queueLength: number;
  state: DeliveryState;
  /**
   * The queue is at its bound: new batches wait in the browser.
   */
  queueFull: boolean;
  /**
   * Since the class server last failed to answer; null when reachable.
   */
  unreachableSeconds: number | null;
  /**
   * Warn the student once unreachable this long.
   */
  warnAfterSeconds: number;
  /**
   * What the indicator shows; a disk problem first.
   */
  lastError: string | null;
  /**
   * Why events cannot be saved to or cleared from the disk queue, if so.
   */
  queueError: string | null;
  /**
   * Unix time of the last delivery.
   */
  lastDeliveryAt: number | null;
  delivered: number;
  notice: NoticeConfig;
}
/**
 * The operator's privacy configuration, for the data notice.
 */
export interface NoticeConfig {
  /**
   * Nothing is captured until the student accepts.
   */
  requireConsent: boolean;
  /**
   * Who to ask for a copy or deletion.
   */
  privacyContact: string | null;
  /**
   * The identity events carry without hub user or email.
   */
  userId: string | null;
  /**
   * Engagement signals (visibility, idle, edit counts) are captured.
   */
  engagement: boolean;
}
/**
 * What POST cell-monitor/events answers (202).
 */
export interface QueueAnswer {
  queued: number;
  duplicates: number;
  rejected: QueueRejection[];
  queueLength: number;
}
export interface QueueRejection {
  /**
   * Position of the event in the posted array.
   */
  index: number;
  error: string;
}
/**
 * What the browser posts; a bare JSON array of events is accepted too.
 */
export interface QueueRequest {
  /**
   * EventIn objects; each is checked alone.
   */
  events: {
    [k: string]: unknown;
  }[];
  /**
   * The student accepted the data notice.
   */
  consent?: boolean;
  target?: ClientTarget | null;
}
export interface RejectedEvent {
  /**
   * Position of the event in the posted array.
   */
  index: number;
  eventId: string | null;
  errors: string[];
}
/**
 * How the extension recognised the test.
 */
export type TestKind = 'nbgrader' | 'otter' | 'tag';
/**
 * One question's outcome in a test cell's run.
 */
export interface TestOutcome {
  /**
   * grade_id, otter name…
   */
  question: string;
  passed: boolean;
  kind?: TestKind;
  /**
   * Points earned, when known.
   */
  points?: number | null;
  /**
   * Points possible.
   */
  maxPoints?: number | null;
}
