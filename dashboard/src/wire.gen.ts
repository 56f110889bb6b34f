// Generated from the models in cell_monitor/contract by scripts/generate_wire_types.py:
// do not edit. After changing a model, regenerate with `npm run generate:types`.
/**
 * The signed-in instructor.
 */
export interface AccountOut {
  username: string;
  role: string;
}
export interface ActivityMinute {
  /**
   * Start of the minute (UTC).
   */
  time: string;
  executions: number;
  errors: number;
}
/**
 * Cell executions and errors per minute, for the dashboard's activity chart.
 */
export interface ActivityOut {
  /**
   * Who answered: `influxdb`, `postgresql` or `sqlite`.
   */
  source: string;
  hours: number;
  bucketSeconds: number;
  minutes: ActivityMinute[];
  /**
   * Why InfluxDB, though configured, did not answer.
   */
  fallbackReason: string | null;
}
export interface Alert {
  kind: 'help' | 'stuck' | 'quiet';
  action: 'raised' | 'cleared';
  student: string;
  userName: string | null;
  teamName: string | null;
  notebook: string | null;
  /**
   * Help asked, the latest error of the streak, or editing since (quiet).
   */
  since: string | null;
  errorName: string | null;
  errorMessage: string | null;
  consecutiveErrors: number;
  at: string;
  by: 'student' | 'instructor';
}
export interface AlertChanged {
  type: 'alert';
  alert: Alert;
}
/**
 * GET /health/live.
 */
export interface AliveOut {
  status: 'alive';
}
/**
 * Students whose latest attempts have the same shape (same code, written differently).
 */
export interface AttemptCluster {
  fingerprint: string;
  /**
   * How the shape was taken: AST, or tokens.
   */
  method: 'ast' | 'tokens' | 'empty' | 'missing';
  size: number;
  /**
   * The most common outcome of its members.
   */
  outcome: string;
  /**
   * That outcome is a success (`ok`, `test passed`).
   */
  passing: boolean;
  /**
   * Members per outcome.
   */
  outcomes: {
    [k: string]: number;
  };
  /**
   * The most common exact code of the cluster.
   */
  representative: string | null;
  /**
   * The shape itself (local names as v0, v1, ...).
   */
  normalized: string;
  /**
   * Most recent first.
   */
  members: ClusterMember[];
}
/**
 * Who a message goes to, as the dashboard shows them; resolved when it is sent.
 */
export interface Audience {
  kind: 'students' | 'team' | 'class' | 'hotspot' | 'stuck' | 'cluster';
  /**
   * students: their keys
   *
   * @maxItems 5000
   */
  students?: string[];
  /**
   * team; narrows class/stuck/cluster
   */
  team?: string | null;
  /**
   * hotspot, cluster; narrows stuck
   */
  notebook?: string | null;
  /**
   * hotspot, cluster (or question), stuck
   */
  cellIndex?: number | null;
  /**
   * hotspot: the error's name
   */
  errorName?: string | null;
  /**
   * hotspot: its message (all messages when absent)
   */
  errorMessage?: string | null;
  /**
   * hotspot: only students who hit it this recently
   */
  hours?: number | null;
  /**
   * cluster: its fingerprint
   */
  fingerprint?: string | null;
  /**
   * cluster: of the answers to this test question
   */
  question?: string | null;
}
/**
 * One WebSocket frame carrying the messages that queued up meanwhile.
 */
export interface Batch {
  type: 'batch';
  messages: LiveMessage[];
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
export interface CellProgress {
  cellIndex: number;
  /**
   * Students who ran this cell at least once.
   */
  reached: number;
  /**
   * Students whose latest run of it succeeded.
   */
  ok: number;
  /**
   * Students whose latest run of it failed.
   */
  failed: number;
}
/**
 * A student's cell by its latest run; a cell never run has no entry.
 */
export type CellState = 'ok' | 'failed';
/**
 * A student's time on one cell.
 */
export interface CellTime {
  cellIndex: number;
  /**
   * Active (visible and not idle) on the cell.
   */
  activeSeconds: number;
  edits: number;
  runs: number;
  /**
   * First activity or run on the cell.
   */
  firstAt: string | null;
  /**
   * First passing test run, if a test.
   */
  firstPassedAt: string | null;
  /**
   * first_passed_at minus first_at.
   */
  secondsToPass: number | null;
}
/**
 * One cell across the class: where it slows down.
 */
export interface ClassCellTime {
  cellIndex: number;
  /**
   * Students with time on the cell.
   */
  students: number;
  medianSeconds: number;
  p90Seconds: number;
  medianSecondsToPass: number | null;
  /**
   * Its median is well above the notebook's typical cell.
   */
  slow: boolean;
}
export interface ClusterMember {
  student: string;
  userName: string | null;
  teamName: string | null;
  /**
   * The cell of this attempt: for a question, the student's answer cell (None when they ran none before the test).
   */
  cellIndex: number | null;
  /**
   * When the attempt ran (None: no answer run).
   */
  eventTime: string | null;
  /**
   * A cell's attempt: `ok`, or the error's name (`error` when it has none). A question's answer: its latest test outcome, `test passed`, `test failed`, or `test failed: ` and the test cell's error name (`test failed: AssertionError`).
   */
  outcome: string;
  code: string | null;
}
/**
 * The clusters of a cell's latest attempts, or of the answers to a test question.
 */
export interface ClustersOut {
  notebook: string;
  /**
   * The cell clustered; for a question, the answer cell most of its students ran (each member names its own; None when nobody ran one).
   */
  cellIndex: number | null;
  /**
   * The test question whose answers are clustered (None: a cell's).
   */
  question: string | null;
  /**
   * Students with at least one run of this cell; for a question, students with a test result of it.
   */
  attempts: number;
  /**
   * Failing clusters first, then by size: the common wrong attempts lead.
   */
  clusters: AttemptCluster[];
}
export type DashboardMessage = HeartbeatResponse | Resync;
export interface EventAdded {
  type: 'event';
  event: LiveEvent;
}
export interface EventOut {
  eventId: string;
  eventType: string;
  eventTime: string;
  receivedAt: string;
  emailAddress: string | null;
  userId: string | null;
  /**
   * The student's key: emailAddress, else userId.
   */
  student: string;
  userName: string | null;
  teamName: string | null;
  sessionId: string | null;
  notebookPath: string | null;
  cellId: string | null;
  cellIndex: number | null;
  cellType: string | null;
  code: string | null;
  executionCount: number | null;
  hasError: boolean | null;
  errorName: string | null;
  errorMessage: string | null;
  traceback: string | null;
  result: string | null;
  executionDurationMs: number | null;
  truncated: boolean;
  metadata: {
    [k: string]: unknown;
  } | null;
}
export interface EventPage {
  items: EventOut[];
  /**
   * Pass as `cursor` for the next page.
   */
  nextCursor: string | null;
}
export interface FailingOut {
  notebook: string | null;
  /**
   * Most failing students first.
   */
  items: FailingQuestion[];
}
/**
 * A question whose test some students currently fail, with who.
 */
export interface FailingQuestion {
  notebook: string;
  question: string;
  cellIndex: number | null;
  failing: number;
  students: FailingStudent[];
}
export interface FailingStudent {
  student: string;
  userName: string | null;
  teamName: string | null;
  errorName: string | null;
  lastAt: string;
}
/**
 * GET /health, as in the user's guide (503 when a service is unhealthy).
 */
export interface HealthOut {
  status: 'healthy' | 'unhealthy';
  timestamp: string;
  version: string;
  /**
   * Service → `healthy` or `unhealthy: <reason>`.
   */
  services: {
    [k: string]: string;
  };
  /**
   * The hub this server is a service of (its URL), when configured.
   */
  jupyterhub: string | null;
}
/**
 * Every 30 s; dashboards answer with a HeartbeatResponse.
 */
export interface Heartbeat {
  type: 'heartbeat';
  serverTime: string;
}
export interface HeartbeatResponse {
  type: 'heartbeat_response';
}
export interface HelpEntry {
  at: string;
  /**
   * help, help_stop (by the student) or dismiss_help, handle_stuck, claim_help, release_help (by an instructor).
   */
  kind: string;
  /**
   * student or instructor
   */
  by: string;
}
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
export interface Hotspot {
  /**
   * notebookPath of the cell.
   */
  notebook: string | null;
  cellIndex: number | null;
  errorName: string | null;
  errorMessage: string | null;
  /**
   * Distinct students who hit this error on this cell.
   */
  students: number;
  occurrences: number;
  lastAt: string;
  /**
   * Those students, most recent first.
   */
  who: HotspotStudent[];
}
export interface HotspotStudent {
  student: string;
  userName: string | null;
  teamName: string | null;
  lastAt: string;
}
export interface HotspotsOut {
  notebook: string | null;
  since: string | null;
  /**
   * Most students first.
   */
  items: Hotspot[];
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
export interface LastError {
  name: string | null;
  message: string | null;
  at: string | null;
  cellIndex: number | null;
}
/**
 * An event trimmed to what a live dashboard needs (no code, no output).
 */
export interface LiveEvent {
  eventId: string;
  eventType: string;
  eventTime: string | null;
  student: string;
  userName: string | null;
  teamName: string | null;
  notebookPath: string | null;
  cellIndex: number | null;
  cellId: string | null;
  executionCount: number | null;
  /**
   * null for events that are not executions
   */
  hasError: boolean | null;
  errorName: string | null;
  /**
   * Its start only.
   */
  errorMessage: string | null;
  executionDurationMs: number | null;
  /**
   * Questions a test cell's run passed.
   */
  testsPassed: number | null;
  /**
   * Null for runs of ordinary cells.
   */
  testsFailed: number | null;
}
export type LiveFrame =
  | Snapshot
  | StudentChanged
  | EventAdded
  | AlertChanged
  | StudentRemoved
  | MessagesChanged
  | Heartbeat
  | Batch;
export type LiveMessage =
  | Snapshot
  | StudentChanged
  | EventAdded
  | AlertChanged
  | StudentRemoved
  | MessagesChanged
  | Heartbeat;
export interface LiveThresholds {
  stuckAfterErrors: number;
  activeWindowSeconds: number;
  quietAfterSeconds: number;
  awayAfterSeconds: number;
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
export interface MessageDetail {
  message: MessageOut;
  recipients: Recipient[];
}
/**
 * What a student received, newest first (their message panel).
 */
export interface MessageHistory {
  items: InboxMessage[];
}
/**
 * A message or hint as the dashboard sends it.
 */
export interface MessageIn {
  /**
   * Client UUID: a resent request is stored once (the first answer again).
   */
  requestId: string;
  /**
   * Markdown.
   */
  body: string;
  /**
   * Code the student may insert as a new cell below the active one.
   */
  snippet?: string | null;
  audience: Audience;
}
export interface MessageList {
  items: MessageOut[];
}
/**
 * A sent message as the dashboard lists it.
 */
export interface MessageOut {
  id: string;
  sentAt: string;
  sender: string;
  /**
   * The Markdown as written.
   */
  body: string;
  /**
   * The Markdown rendered safely (no raw HTML, no scripts).
   */
  bodyHtml: string;
  snippet: string | null;
  kind: 'students' | 'team' | 'class' | 'hotspot' | 'stuck' | 'cluster';
  /**
   * Who it was for, e.g. "NameError on cell 7 of lesson1".
   */
  audience: string;
  receipts: Receipts;
}
/**
 * Receipts or replies of these sent messages changed: dashboards read them again.
 */
export interface MessagesChanged {
  type: 'messages_changed';
  messageIds: string[];
}
export interface NotebookList {
  /**
   * Start of the window the counts cover.
   */
  since: string;
  /**
   * Most recently used first.
   */
  items: NotebookOut[];
}
export interface NotebookOut {
  path: string;
  /**
   * Students who ran at least one of its cells since `since`.
   */
  students: number;
  /**
   * Cell executions since `since`.
   */
  executions: number;
  /**
   * Failed cell executions since `since`.
   */
  errors: number;
  /**
   * Its newest event, of any type.
   */
  lastActivity: string | null;
}
export interface NotebookSignals {
  notebook: string;
  activeSeconds: number;
  questions: StudentQuestion[];
  cells: CellTime[];
}
/**
 * Cells x students of one notebook: not run / ran OK / last run failed.
 */
export interface ProgressOut {
  notebook: string;
  /**
   * Highest cell index seen, plus one.
   */
  cellCount: number;
  cells: CellProgress[];
  students: StudentProgress[];
}
/**
 * One question of a notebook across the class.
 */
export interface QuestionStat {
  notebook: string;
  question: string;
  kind: TestKind;
  /**
   * Where the test cell was last run.
   */
  cellIndex: number | null;
  maxPoints: number | null;
  /**
   * Students who ran the test at least once.
   */
  attempted: number;
  /**
   * Students whose latest outcome is a pass.
   */
  passed: number;
  /**
   * Students whose latest outcome is a failure.
   */
  failed: number;
  /**
   * Students who passed it at least once.
   */
  everPassed: number;
  /**
   * passed / attempted (0 when nobody attempted).
   */
  passRate: number;
}
/**
 * GET /api/v1/questions: per question pass rates, per student outcomes.
 */
export interface QuestionsOut {
  /**
   * The notebook asked for; null: every notebook.
   */
  notebook: string | null;
  /**
   * By notebook, in cell order.
   */
  questions: QuestionStat[];
  students: StudentQuestions[];
}
/**
 * GET /health/ready (503 when not ready).
 */
export interface ReadyOut {
  status: 'ready' | 'not ready';
  services: {
    [k: string]: string;
  };
}
/**
 * How many of the message's students got it, saw it and did something with it.
 */
export interface Receipts {
  recipients: number;
  /**
   * Their Jupyter server received it.
   */
  delivered: number;
  /**
   * Shown to them in JupyterLab.
   */
  seen: number;
  /**
   * Inserted the snippet as a new cell.
   */
  inserted: number;
  /**
   * Answered "got it".
   */
  acknowledged: number;
  /**
   * Sent a reply.
   */
  replied: number;
}
/**
 * One student of a message and what they did with it.
 */
export interface Recipient {
  student: string;
  userName: string | null;
  teamName: string | null;
  deliveredAt: string | null;
  seenAt: string | null;
  insertedAt: string | null;
  acknowledgedAt: string | null;
  replies: Reply[];
}
/**
 * How the Jupyter server's relay of the inbox is doing (`state` of LabInbox).
 */
export type RelayState =
  'ok' | 'connecting' | 'not_configured' | 'refused' | 'unreachable';
/**
 * A student's cell turned ok or failed at `at` (its latest run).
 */
export interface ReplayCell {
  at: string;
  student: string;
  notebook: string;
  cellIndex: number;
  state: 'ok' | 'failed';
}
/**
 * A student's live state from `at` until their next frame.
 */
export interface ReplayFrame {
  at: string;
  student: string;
  status: 'help' | 'stuck' | 'error' | 'active' | 'idle';
  /**
   * When `active` turns `idle` if nothing else happens (active window).
   */
  idleAt: string | null;
  notebook: string | null;
  cellIndex: number | null;
  errorName: string | null;
  helpSince: string | null;
  consecutiveErrors: number;
}
/**
 * The class between `start` and `end`, rebuilt from stored events: scrub it client-side.
 */
export interface ReplayOut {
  start: string;
  end: string;
  /**
   * Cells of this notebook only (all when None).
   */
  notebook: string | null;
  students: ReplayStudent[];
  /**
   * In time order.
   */
  frames: ReplayFrame[];
  /**
   * In time order.
   */
  cells: ReplayCell[];
  /**
   * True when the window held more events than replayed.
   */
  truncated: boolean;
}
export interface ReplayStudent {
  student: string;
  userName: string | null;
  teamName: string | null;
}
export interface Reply {
  text: string;
  at: string;
}
/**
 * Ask for a fresh snapshot on the open connection.
 */
export interface Resync {
  type: 'resync';
}
/**
 * One run of a cell, and what changed since the run before it.
 */
export interface Run {
  eventId: string;
  eventTime: string;
  cellIndex: number | null;
  cellId: string | null;
  executionCount: number | null;
  code: string | null;
  /**
   * `ok`, or the error's name (`error` when it has none).
   */
  outcome: string;
  errorMessage: string | null;
  durationMs: number | null;
  /**
   * Unified diff lines from the previous run of this cell (None for the first).
   */
  diff: string[] | null;
}
export interface RunHistory {
  student: string;
  notebook: string;
  cellIndex: number | null;
  /**
   * Oldest first.
   */
  runs: Run[];
  /**
   * Runs of this cell by this student.
   */
  total: number;
  /**
   * Pass as `cursor` for the next page.
   */
  nextCursor: string | null;
}
export interface SessionOut {
  sessionId: string;
  firstSeen: string;
  lastSeen: string;
}
/**
 * The class's live state: the first message, and what GET /api/v1/live answers.
 */
export interface Snapshot {
  type: 'snapshot';
  serverTime: string;
  thresholds: LiveThresholds;
  students: StudentView[];
}
export interface StatsOut {
  events: number;
  students: number;
  notebooks: number;
  sessions: number;
  executions: number;
  errors: number;
  eventsByType: {
    [k: string]: number;
  };
  firstEvent: string | null;
  lastEvent: string | null;
}
/**
 * Ordered by priority: the first that applies is the student's status
 * (the rules: domain/live_status.py; docs/dashboard.md, "Statuses").
 */
export type Status =
  'help' | 'stuck' | 'quiet' | 'error' | 'away' | 'active' | 'idle';
export interface StudentChanged {
  type: 'student';
  student: StudentView;
}
export interface StudentDetail {
  student: string;
  userName: string | null;
  teamName: string | null;
  emailAddress: string | null;
  firstSeen: string;
  lastActivity: string;
  /**
   * Newest first.
   */
  executions: TimelineExecution[];
  /**
   * Pass as `cursor` for older executions.
   */
  nextCursor: string | null;
  /**
   * Help requests and instructor actions, newest first.
   */
  help: HelpEntry[];
  /**
   * Newest first.
   */
  sessions: SessionOut[];
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
export interface StudentList {
  items: StudentOut[];
}
export interface StudentOut {
  student: string;
  emailAddress: string | null;
  userId: string | null;
  userName: string | null;
  teamName: string | null;
  firstSeen: string;
  lastActivity: string;
  events: number;
  executions: number;
  errors: number;
}
export interface StudentProgress {
  student: string;
  userName: string | null;
  teamName: string | null;
  /**
   * Cell index → state of its latest run.
   */
  cells: {
    [k: string]: CellState;
  };
}
/**
 * A student's latest outcome of one question.
 */
export interface StudentQuestion {
  notebook: string;
  question: string;
  passed: boolean;
  attempts: number;
  cellIndex: number | null;
  points: number | null;
  lastAt: string;
  firstPassedAt: string | null;
  /**
   * The error of the latest failing run.
   */
  errorName: string | null;
}
export interface StudentQuestions {
  student: string;
  userName: string | null;
  teamName: string | null;
  passed: number;
  questions: StudentQuestion[];
}
/**
 * The student was erased: dashboards drop their tile and alerts.
 */
export interface StudentRemoved {
  type: 'student_removed';
  studentId: string;
}
/**
 * GET /api/v1/student-signals: one student's outcomes and time, per notebook.
 */
export interface StudentSignals {
  student: string;
  notebooks: NotebookSignals[];
}
export interface StudentTime {
  student: string;
  userName: string | null;
  teamName: string | null;
  activeSeconds: number;
  cells: CellTime[];
}
/**
 * A student as dashboards show them; `version` orders updates of one student.
 */
export interface StudentView {
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
  lastError: LastError | null;
  helpSince: string | null;
  /**
   * Who is on the way, e.g. "Ada (TA)".
   */
  helpClaimedBy: string | null;
  helpClaimedAt: string | null;
  /**
   * The notebook is visible (null: not reported).
   */
  visible: boolean | null;
  hiddenSince: string | null;
  /**
   * Editing without a passing run since.
   */
  editingSince: string | null;
  editingCellIndex: number | null;
  version: number;
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
 * GET /api/v1/time-on-task: per cell for the class, per student and cell.
 */
export interface TimeOnTaskOut {
  notebook: string;
  cells: ClassCellTime[];
  students: StudentTime[];
}
export interface TimelineExecution {
  eventId: string;
  eventTime: string;
  notebookPath: string | null;
  cellIndex: number | null;
  cellId: string | null;
  executionCount: number | null;
  code: string | null;
  durationMs: number | null;
  hasError: boolean;
  errorName: string | null;
  errorMessage: string | null;
  /**
   * The start of the result text.
   */
  outputSummary: string | null;
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
