/**
 * The browser's queue of events not yet acknowledged by the Jupyter server.
 *
 * It is bounded and mirrored into localStorage so that a reload, a crash of
 * the tab or a restart of the Jupyter server loses nothing: the next page
 * (this one after a reload, or another open tab) adopts what was left behind
 * and sends it. Every event keeps its eventId, so a copy sent twice is stored
 * once downstream.
 */

import { IMonitorEvent } from './events';

/** The subset of the Web Storage API the queue uses (injectable for tests). */
export interface IKeyValueStorage {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface IPendingQueueOptions {
  /** Unique per page load: each page owns its own storage keys. */
  instanceId: string;
  /** Most events kept; beyond it the oldest are dropped (and counted). */
  maxEvents: number;
  /** Where events are mirrored; null keeps them in memory only. */
  storage: IKeyValueStorage | null;
  /** A page whose heartbeat is older than this is gone: its events are adopted. */
  staleAfterMs?: number;
  now?: () => number;
}

const PREFIX = 'cell-monitor:';
const EVENTS_KEY = `${PREFIX}pending:`;
const ALIVE_KEY = `${PREFIX}alive:`;
const DEFAULT_STALE_AFTER_MS = 30000;

export class PendingQueue {
  constructor(options: IPendingQueueOptions) {
    this._instanceId = options.instanceId;
    this._maxEvents = options.maxEvents;
    this._storage = options.storage;
    this._staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    this._now = options.now ?? Date.now;
  }

  /** Events waiting to be acknowledged. */
  get length(): number {
    return this._events.length;
  }

  /** Events dropped because the queue was full, since this page loaded. */
  get dropped(): number {
    return this._dropped;
  }

  /** Append an event, dropping the oldest when the bound is reached. */
  push(event: IMonitorEvent): void {
    this._append([event]);
    this._persist();
  }

  /** The oldest `count` events, left in the queue until acknowledged. */
  peek(count: number): IMonitorEvent[] {
    return this._events.slice(0, count);
  }

  /** Remove acknowledged events; the others stay for the next attempt. */
  acknowledge(eventIds: Iterable<string>): void {
    const done = new Set(eventIds);
    if (done.size === 0) {
      return;
    }
    this._events = this._events.filter(e => !done.has(e.eventId));
    this._persist();
  }

  /** Record that this page is alive, so other pages leave its events alone. */
  heartbeat(): void {
    this._write(ALIVE_KEY + this._instanceId, String(this._now()));
  }

  /** Declare this page gone (on unload), so the next page adopts at once. */
  release(): void {
    this._remove(ALIVE_KEY + this._instanceId);
  }

  /**
   * Take over the events of pages that are gone (closed, reloaded, crashed).
   * Returns how many events were adopted.
   */
  adoptOrphans(): number {
    const storage = this._storage;
    if (!storage) {
      return 0;
    }
    const orphans: string[] = [];
    try {
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i);
        if (key && key.startsWith(EVENTS_KEY)) {
          const owner = key.slice(EVENTS_KEY.length);
          if (owner !== this._instanceId && this._isGone(owner)) {
            orphans.push(owner);
          }
        }
      }
    } catch {
      return 0;
    }
    let adopted = 0;
    for (const owner of orphans) {
      const events = this._read(owner);
      // Remove first: if two pages adopt at once, eventId deduplication
      // downstream makes the double delivery harmless.
      this._remove(EVENTS_KEY + owner);
      this._remove(ALIVE_KEY + owner);
      adopted += this._append(events);
    }
    if (adopted > 0) {
      this._persist();
    }
    return adopted;
  }

  private _isGone(owner: string): boolean {
    const alive = this._storage?.getItem(ALIVE_KEY + owner);
    const at = alive ? Number(alive) : NaN;
    return !Number.isFinite(at) || this._now() - at > this._staleAfterMs;
  }

  private _append(events: IMonitorEvent[]): number {
    const known = new Set(this._events.map(e => e.eventId));
    let added = 0;
    for (const event of events) {
      if (
        event &&
        typeof event.eventId === 'string' &&
        !known.has(event.eventId)
      ) {
        this._events.push(event);
        known.add(event.eventId);
        added++;
      }
    }
    const excess = this._events.length - this._maxEvents;
    if (excess > 0) {
      this._events.splice(0, excess);
      this._dropped += excess;
    }
    return added;
  }

  private _read(owner: string): IMonitorEvent[] {
    try {
      const raw = this._storage?.getItem(EVENTS_KEY + owner);
      const parsed = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }

  private _persist(): void {
    const key = EVENTS_KEY + this._instanceId;
    if (this._events.length === 0) {
      this._remove(key);
    } else {
      this._write(key, JSON.stringify(this._events));
    }
  }

  // Storage can throw (quota exceeded, disabled by privacy settings): the
  // queue then keeps working in memory, which is all a page can do.
  private _write(key: string, value: string): void {
    try {
      this._storage?.setItem(key, value);
    } catch {
      /* keep going in memory */
    }
  }

  private _remove(key: string): void {
    try {
      this._storage?.removeItem(key);
    } catch {
      /* nothing to clean up then */
    }
  }

  private _events: IMonitorEvent[] = [];
  private _dropped = 0;
  private readonly _instanceId: string;
  private readonly _maxEvents: number;
  private readonly _storage: IKeyValueStorage | null;
  private readonly _staleAfterMs: number;
  private readonly _now: () => number;
}
