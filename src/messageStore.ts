/**
 * The student's messages from the instructor, as this browser knows them: what
 * the inbox delivers and the history holds, merged by message id, and which
 * ones were already settled (announced here, or by another tab or browser,
 * says the Jupyter server's claim), kept in localStorage so that a reload does
 * not even ask again.
 */

import { IKeyValueStorage } from './queue';
import type { InboxMessage } from './wire.gen';

export type AnswerKind =
  | 'message_seen'
  | 'message_inserted'
  | 'message_acknowledged'
  | 'message_reply';

/** What the student did with a message, as an event's fields. */
export interface IAnswer {
  kind: AnswerKind;
  messageId: string;
  replyText?: string;
}

export const MAX_REPLY_CHARS = 500;
const SHOWN_KEY = 'cell-monitor:messages-shown';
// Bounded: the ids of a term's messages, not of every message ever.
const MAX_REMEMBERED = 1000;

function later(a: string | null, b: string | null): string | null {
  return a ?? b;
}

export class MessageStore {
  private readonly messages = new Map<string, InboxMessage>();
  private readonly shown: string[];
  // Asked about (the Jupyter server's claim), not settled yet.
  private readonly pending = new Set<string>();

  constructor(private readonly storage: IKeyValueStorage | null) {
    this.shown = this.load();
  }

  /**
   * Merge messages from the inbox or the history; returns those that may be
   * announced now: not yet seen (here or, says the server, anywhere), never
   * settled by this browser and not already being asked about. They stay
   * pending until `settle` (asked and answered) or `release` (ask again).
   */
  receive(items: readonly InboxMessage[]): InboxMessage[] {
    for (const item of items) {
      const known = this.messages.get(item.id);
      this.messages.set(item.id, known ? merge(known, item) : item);
    }
    const fresh = this.list()
      .reverse()
      .filter(
        m => !m.seenAt && !this.shown.includes(m.id) && !this.pending.has(m.id)
      );
    for (const message of fresh) {
      this.pending.add(message.id);
    }
    return fresh;
  }

  /** These were announced, here or elsewhere: never offered again. */
  settle(ids: readonly string[]): void {
    for (const id of ids) {
      this.pending.delete(id);
      if (!this.shown.includes(id)) {
        this.shown.push(id);
      }
    }
    this.shown.splice(0, Math.max(0, this.shown.length - MAX_REMEMBERED));
    try {
      this.storage?.setItem(SHOWN_KEY, JSON.stringify(this.shown));
    } catch {
      /* a full storage: this tab still remembers */
    }
  }

  /** Asking about these failed: offer them again at the next `receive`. */
  release(ids: readonly string[]): void {
    for (const id of ids) {
      this.pending.delete(id);
    }
  }

  /** The student's own action, shown at once (the server confirms it later). */
  note(answer: IAnswer, at: string): InboxMessage | null {
    const message = this.messages.get(answer.messageId);
    if (!message) {
      return null;
    }
    const updated: InboxMessage = { ...message, seenAt: message.seenAt ?? at };
    if (answer.kind === 'message_inserted') {
      updated.insertedAt = message.insertedAt ?? at;
    } else if (answer.kind === 'message_acknowledged') {
      updated.acknowledgedAt = message.acknowledgedAt ?? at;
    } else if (answer.kind === 'message_reply' && answer.replyText) {
      updated.replies = [...message.replies, { text: answer.replyText, at }];
    }
    this.messages.set(message.id, updated);
    return updated;
  }

  get(id: string): InboxMessage | undefined {
    return this.messages.get(id);
  }

  /** Every message, newest first. */
  list(): InboxMessage[] {
    return [...this.messages.values()].sort((a, b) =>
      b.sentAt.localeCompare(a.sentAt)
    );
  }

  /** Messages the student has not opened or answered yet. */
  unread(): number {
    return this.list().filter(m => !m.seenAt).length;
  }

  private load(): string[] {
    try {
      const raw = this.storage?.getItem(SHOWN_KEY);
      const ids: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(ids) ? ids.filter(i => typeof i === 'string') : [];
    } catch {
      return [];
    }
  }
}

/** The newer knowledge of one message: times once set stay set, replies are the longer list. */
function merge(known: InboxMessage, item: InboxMessage): InboxMessage {
  return {
    ...item,
    seenAt: later(item.seenAt, known.seenAt),
    insertedAt: later(item.insertedAt, known.insertedAt),
    acknowledgedAt: later(item.acknowledgedAt, known.acknowledgedAt),
    replies:
      item.replies.length >= known.replies.length ? item.replies : known.replies
  };
}

/** The fields of the event that reports `answer` (messageId, a short replyText). */
export function answerFields(answer: IAnswer): Record<string, string> {
  const fields: Record<string, string> = { messageId: answer.messageId };
  if (answer.kind === 'message_reply') {
    fields.replyText = (answer.replyText ?? '')
      .trim()
      .slice(0, MAX_REPLY_CHARS);
  }
  return fields;
}
