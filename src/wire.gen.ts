// Generated from the models in cell_monitor/contract by scripts/generate_wire_types.py:
// do not edit. After changing a model, regenerate with `npm run generate:types`.
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
  | 'help_stop';
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
  rejected: RejectedEvent[];
}
export interface RejectedEvent {
  /**
   * Position of the event in the posted array.
   */
  index: number;
  eventId: string | null;
  errors: string[];
}
