// Generated from the models in cell_monitor/contract by scripts/generate_wire_types.py:
// do not edit. After changing a model, regenerate with `npm run generate:types`.
/**
 * The ids this tab announces: each id is granted once per Jupyter server, ever.
 */
export interface AnnounceAnswer {
  announce: string[];
}
/**
 * POST cell-monitor/messages/announce: the messages a tab would announce now.
 */
export interface AnnounceRequest {
  /**
   * Ids of unseen messages, first to last.
   *
   * @maxItems 100
   */
  messageIds: string[];
}
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
   * On help/help_stop: the client's id of this ask. A help event with a new id asks again (also right after an instructor closed the last request); the same id is a resend. Without it, help events less than 60 s apart are one request.
   */
  helpRequestId?: string | null;
  /**
   * On message_seen/_inserted/_acknowledged/_reply: the instructor's message.
   */
  messageId?: string | null;
  /**
   * On message_reply: the student's short reply (cut to 500 characters).
   */
  replyText?: string | null;
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
   * On engagement, hidden: the notebook was hidden this long before the event.
   */
  hiddenMs?: number | null;
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
  | 'message_seen'
  | 'message_inserted'
  | 'message_acknowledged'
  | 'message_reply'
  | 'engagement';
/**
 * GET /api/v1/help/queue: open requests, oldest first.
 */
export interface HelpQueue {
  serverTime: string;
  /**
   * How the caller's claims are shown, e.g. "ada (TA)".
   */
  me: string;
  /**
   * Teams of the caller: those of their account (cell-monitor user teams), then those of their hub groups.
   */
  myTeams: string[];
  requests: HelpQueueEntry[];
}
/**
 * One open request in the instructors' queue.
 */
export interface HelpQueueEntry {
  id: number;
  student: string;
  userName: string | null;
  teamName: string | null;
  notebookPath: string | null;
  state: HelpState;
  /**
   * Place in line among unclaimed requests.
   */
  position: number | null;
  openedAt: string;
  waitingSeconds: number;
  claimedBy: string | null;
  claimedAt: string | null;
  /**
   * Claimed by the caller, or in one of the caller's teams.
   */
  mine: boolean;
}
/**
 * The student's latest help request, as their JupyterLab shows it.
 */
export interface HelpRequestView {
  id: number;
  state: HelpState;
  openedAt: string;
  /**
   * 1 for the first in line; open (unclaimed) requests only, else null.
   */
  position: number | null;
  /**
   * Who is on the way, e.g. "Ada (TA)".
   */
  claimedBy: string | null;
  claimedAt: string | null;
  closedAt: string | null;
  /**
   * The client's id of the ask, if it sent one.
   */
  helpRequestId: string | null;
}
/**
 * One class session: help requests with less than the session gap between them.
 */
export interface HelpSessionFigures {
  requests: number;
  answered: number;
  open: number;
  medianWaitSeconds: number | null;
  /**
   * Also counts requests still waiting (their wait so far).
   */
  longestWaitSeconds: number | null;
  startedAt: string;
  endedAt: string;
}
/**
 * A help request's life: open → claimed → one of the three ends.
 */
export type HelpState =
  'open' | 'claimed' | 'resolved' | 'withdrawn' | 'dismissed';
/**
 * GET /api/v1/help/stats: wait times today (UTC) and per class session.
 */
export interface HelpStats {
  serverTime: string;
  today: WaitFigures;
  /**
   * Newest first.
   */
  sessions: HelpSessionFigures[];
}
/**
 * A message as the student's JupyterLab shows it (no other student appears in it).
 */
export interface InboxMessage {
  id: string;
  sentAt: string;
  sender: string;
  /**
   * Rendered safely on the server; sanitized again in the lab.
   */
  bodyHtml: string;
  snippet: string | null;
  seenAt: string | null;
  insertedAt: string | null;
  acknowledgedAt: string | null;
  replies: Reply[];
}
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
 * GET cell-monitor/inbox on the student's Jupyter server: its latest copy of the inbox.
 */
export interface LabInbox {
  /**
   * Changes when the state or the inbox changes.
   */
  etag: string;
  state: RelayState;
  /**
   * Why the relay is not ok, in words.
   */
  detail: string | null;
  /**
   * The latest inbox (kept while unreachable).
   */
  inbox: StudentInbox | null;
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
 * What the HTML of a message may hold: every front-end and the server keep to it.
 *
 * The server renders Markdown into these elements only (raw HTML off, images off:
 * no request to another server when a message opens); the dashboard and the
 * student's JupyterLab rebuild or sanitize the HTML with the same list.
 */
export interface MarkdownAllowlist {
  /**
   * Elements; any other is unwrapped (its text kept).
   */
  tags: string[];
  /**
   * Attributes allowed per element; every other attribute is dropped.
   */
  attributes: {
    [k: string]: string[];
  };
  /**
   * An href starts with one of these (after trimming, any case); no relative link: it would resolve against the student's own Jupyter server.
   */
  linkPrefixes: string[];
  /**
   * Every link opens in a new tab ...
   */
  linkTarget: string;
  /**
   * ... without a referrer or the page's window.
   */
  linkRel: string;
  /**
   * A code element's class (the fence's language) matches this, or is dropped.
   */
  codeClassPattern: string;
}
/**
 * What a student received, newest first (their message panel).
 */
export interface MessageHistory {
  items: InboxMessage[];
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
 * How the Jupyter server's relay of the inbox is doing (`state` of LabInbox).
 */
export type RelayState =
  'ok' | 'connecting' | 'not_configured' | 'refused' | 'unreachable';
export interface Reply {
  text: string;
  at: string;
}
/**
 * Everything addressed to one student now; `etag` names this exact content.
 */
export interface StudentInbox {
  etag: string;
  help: HelpRequestView | null;
  /**
   * Delivered but not acknowledged, first to last.
   */
  messages: InboxMessage[];
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
/**
 * How long students waited for an answer (a claim or a dismissal).
 */
export interface WaitFigures {
  requests: number;
  answered: number;
  open: number;
  medianWaitSeconds: number | null;
  /**
   * Also counts requests still waiting (their wait so far).
   */
  longestWaitSeconds: number | null;
}
/** The value of cell_monitor.contract.messages.MARKDOWN_ALLOWLIST. */
export const MARKDOWN_ALLOWLIST: MarkdownAllowlist = {
  tags: [
    'p',
    'em',
    'strong',
    'code',
    'pre',
    'a',
    'ul',
    'ol',
    'li',
    'blockquote',
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'hr',
    'br'
  ],
  attributes: { a: ['href', 'target', 'rel'], code: ['class'] },
  linkPrefixes: ['http://', 'https://', 'mailto:'],
  linkTarget: '_blank',
  linkRel: 'noopener noreferrer nofollow',
  codeClassPattern: '^language-[A-Za-z0-9_-]+$'
};
