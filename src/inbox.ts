/**
 * The student's inbox: one long-poll of `GET cell-monitor/inbox` on the
 * student's own Jupyter server (same origin), shared by the help button and
 * the messages panel. The Jupyter server holds the one upstream long-poll to
 * the class server; this only waits for its copy to change.
 *
 * Listeners get every new copy (and the current one when they subscribe).
 * Errors back off with the shared jittered backoff; a hidden page keeps
 * polling (a long-poll costs nothing while nothing changes).
 */

import { backoffDelay, IBackoffOptions } from './backoff';
import type { LabInbox } from './wire.gen';

/** One long-poll: the copy, or null when the Jupyter server did not answer with one. */
export type InboxFetch = (
  since: string | null,
  waitSeconds: number,
  signal: AbortSignal
) => Promise<LabInbox | null>;

export type InboxListener = (inbox: LabInbox) => void;

export interface IInboxOptions {
  /** Seconds each long-poll may be held (the Jupyter server allows up to 30). */
  waitSeconds?: number;
  backoff?: IBackoffOptions;
  /** Waits `ms` (tests pass a fake clock). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const DEFAULT_BACKOFF: IBackoffOptions = { initialMs: 1000, maxMs: 30000 };

export class InboxClient {
  constructor(fetch: InboxFetch, options: IInboxOptions = {}) {
    this._fetch = fetch;
    this._wait = options.waitSeconds ?? 25;
    this._backoff = options.backoff ?? DEFAULT_BACKOFF;
    this._sleep = options.sleep ?? abortableSleep;
  }

  /** The latest copy, null until the first answer. */
  get current(): LabInbox | null {
    return this._current;
  }

  /** Call `listener` with each new copy (at once with the current one); returns the unsubscribe. */
  subscribe(listener: InboxListener): () => void {
    this._listeners.add(listener);
    if (this._current) {
      listener(this._current);
    }
    return () => this._listeners.delete(listener);
  }

  start(): void {
    if (this._abort) {
      return;
    }
    this._abort = new AbortController();
    void this._loop(this._abort.signal);
  }

  stop(): void {
    this._abort?.abort();
    this._abort = null;
  }

  /** Ask again now (e.g. after the student acted), without waiting for the held poll. */
  refresh(): void {
    if (this._abort) {
      this.stop();
      this.start();
    }
  }

  private async _loop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let answer: LabInbox | null = null;
      try {
        answer = await this._fetch(
          this._current?.etag ?? null,
          // The first request answers at once: the page shows the state on load.
          this._current ? this._wait : 0,
          signal
        );
      } catch {
        answer = null;
      }
      if (signal.aborted) {
        return;
      }
      if (answer === null) {
        failures++;
        await this._sleep(backoffDelay(failures, this._backoff), signal);
        continue;
      }
      failures = 0;
      if (answer.etag !== this._current?.etag) {
        this._current = answer;
        for (const listener of Array.from(this._listeners)) {
          try {
            listener(answer);
          } catch (error) {
            console.error('cell-monitor: inbox listener failed', error);
          }
        }
      }
    }
  }

  private readonly _fetch: InboxFetch;
  private readonly _wait: number;
  private readonly _backoff: IBackoffOptions;
  private readonly _sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly _listeners = new Set<InboxListener>();
  private _current: LabInbox | null = null;
  private _abort: AbortController | null = null;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
