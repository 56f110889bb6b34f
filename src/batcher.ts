/**
 * Batching and retry between the capture code and the Jupyter server.
 *
 * Events are sent when `maxBatchEvents` have gathered or `flushIntervalMs`
 * after the first one, whichever comes first: a burst of "run all" becomes a
 * few requests, a single cell still arrives within a second or two. One
 * request is in flight at a time; a failed one is retried with exponential
 * backoff and jitter, for as long as it takes. Events leave the queue only
 * when the server has acknowledged them.
 */

import { backoffDelay, IBackoffOptions } from './backoff';
import { IMonitorEvent } from './events';
import { PendingQueue } from './queue';

/** What the transport reports for one batch. */
export type SendOutcome =
  { ok: true } | { ok: false; error: string; retryAfterMs?: number };

export interface IBatchSender {
  send(events: IMonitorEvent[]): Promise<SendOutcome>;
}

export interface IBatcherOptions {
  flushIntervalMs: number;
  maxBatchEvents: number;
  backoff: IBackoffOptions;
  random?: () => number;
}

/** A snapshot for the status indicator. */
export interface IBatcherState {
  pending: number;
  dropped: number;
  /** Consecutive failed attempts; 0 after a success. */
  failures: number;
  lastError: string | null;
}

export class EventBatcher {
  constructor(
    queue: PendingQueue,
    sender: IBatchSender,
    options: IBatcherOptions,
    onStateChange: (state: IBatcherState) => void = () => undefined
  ) {
    this._queue = queue;
    this._sender = sender;
    this._options = options;
    this._onStateChange = onStateChange;
  }

  get state(): IBatcherState {
    return {
      pending: this._queue.length,
      dropped: this._queue.dropped,
      failures: this._failures,
      lastError: this._lastError
    };
  }

  /** Queue an event; it is sent with the next batch. */
  add(event: IMonitorEvent): void {
    if (this._disposed) {
      return;
    }
    this._queue.push(event);
    if (this._failures > 0) {
      // Backing off: the retry timer will take this event along.
    } else if (this._queue.length >= this._options.maxBatchEvents) {
      this._schedule(0);
    } else {
      this._schedule(this._options.flushIntervalMs);
    }
    this._onStateChange(this.state);
  }

  /** Send what is pending now (after a reload, or when the page is hidden). */
  flushSoon(): void {
    if (this._queue.length > 0 && this._failures === 0) {
      this._schedule(0);
    }
  }

  /** Send batches until the queue is empty or a send fails. */
  async flush(): Promise<void> {
    this._clearTimer();
    if (this._inFlight || this._disposed) {
      return;
    }
    this._inFlight = true;
    try {
      while (this._queue.length > 0 && !this._disposed) {
        const batch = this._queue.peek(this._options.maxBatchEvents);
        let outcome: SendOutcome;
        try {
          outcome = await this._sender.send(batch);
        } catch (error) {
          outcome = { ok: false, error: String(error) };
        }
        if (!outcome.ok) {
          this._failed(outcome.error, outcome.retryAfterMs);
          return;
        }
        this._queue.acknowledge(batch.map(e => e.eventId));
        this._failures = 0;
        this._lastError = null;
        this._onStateChange(this.state);
      }
    } finally {
      this._inFlight = false;
    }
  }

  dispose(): void {
    this._disposed = true;
    this._clearTimer();
  }

  private _failed(error: string, retryAfterMs?: number): void {
    this._failures++;
    this._lastError = error;
    const delay = Math.max(
      backoffDelay(this._failures, this._options.backoff, this._options.random),
      retryAfterMs ?? 0
    );
    this._schedule(delay, true);
    this._onStateChange(this.state);
  }

  /** Arm the flush timer; an earlier deadline wins unless `replace`. */
  private _schedule(delayMs: number, replace = false): void {
    if (this._disposed) {
      return;
    }
    const due = Date.now() + delayMs;
    if (this._timer !== null && !replace && this._due <= due) {
      return;
    }
    this._clearTimer();
    this._due = due;
    this._timer = setTimeout(() => {
      this._timer = null;
      void this.flush();
    }, delayMs);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private readonly _queue: PendingQueue;
  private readonly _sender: IBatchSender;
  private readonly _options: IBatcherOptions;
  private readonly _onStateChange: (state: IBatcherState) => void;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _due = 0;
  private _inFlight = false;
  private _failures = 0;
  private _lastError: string | null = null;
  private _disposed = false;
}
