/**
 * Which tab announces a message. Every tab of every browser of the student gets
 * the same inbox; the Jupyter server grants each message id to the first tab
 * that asks (`cell-monitor/messages/announce`, kept on its disk), so the
 * notification pops up once, whatever the tabs, browsers or restarts. The
 * others list the message in their panel as seen.
 */

import { backoffDelay, IBackoffOptions } from './backoff';
import { MessageStore } from './messageStore';
import type { InboxMessage } from './wire.gen';

/** The ids, of those asked, that this tab announces; null when the Jupyter server did not say. */
export type AnnounceClaim = (ids: string[]) => Promise<string[] | null>;

export interface IAnnouncerOptions {
  backoff?: IBackoffOptions;
  /** Runs `retry` after `ms` (tests pass their own clock). */
  schedule?: (ms: number, retry: () => void) => void;
}

// The server takes at most this many ids per request (MAX_ANNOUNCE_IDS).
const IDS_PER_CLAIM = 100;
const DEFAULT_BACKOFF: IBackoffOptions = { initialMs: 2000, maxMs: 60000 };

export class Announcer {
  constructor(
    private readonly store: MessageStore,
    private readonly claim: AnnounceClaim,
    private readonly show: (message: InboxMessage) => void,
    options: IAnnouncerOptions = {}
  ) {
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.schedule =
      options.schedule ?? ((ms, retry) => void setTimeout(retry, ms));
  }

  /** Merge `items` into the store and announce the fresh ones this tab is granted. */
  async receive(items: readonly InboxMessage[]): Promise<void> {
    const fresh = this.store.receive(items);
    for (let start = 0; start < fresh.length; start += IDS_PER_CLAIM) {
      await this.announce(fresh.slice(start, start + IDS_PER_CLAIM));
    }
  }

  private async announce(fresh: InboxMessage[]): Promise<void> {
    const ids = fresh.map(m => m.id);
    let granted: string[] | null;
    try {
      granted = await this.claim(ids);
    } catch {
      granted = null;
    }
    if (granted === null) {
      // Not known whether another tab has it: ask again later rather than
      // risk a second pop-up (the panel lists it meanwhile).
      this.store.release(ids);
      this.retryLater();
      return;
    }
    this.failures = 0;
    this.store.settle(ids);
    const mine = new Set(granted);
    const at = new Date().toISOString();
    for (const message of fresh) {
      if (mine.has(message.id)) {
        this.show(message);
      } else {
        // Announced in another tab or browser: the student has seen it.
        this.store.note({ kind: 'message_seen', messageId: message.id }, at);
      }
    }
  }

  private retryLater(): void {
    this.failures++;
    if (this.retrying) {
      return;
    }
    this.retrying = true;
    this.schedule(backoffDelay(this.failures, this.backoff), () => {
      this.retrying = false;
      void this.receive([]);
    });
  }

  private readonly backoff: IBackoffOptions;
  private readonly schedule: (ms: number, retry: () => void) => void;
  private failures = 0;
  private retrying = false;
}
