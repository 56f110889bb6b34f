// Sent messages and their receipts: "seen by 31 of 46 · inserted by 12", the
// replies, and per student what became of each message.

import { getJson } from './api.js';
import type { Compose } from './compose.js';
import { byId, el, setText, timeOf } from './dom.js';
import { fillOptions } from './overview.js';
import { safeFragment } from './safeHtml.js';
import type {
  MessageDetail,
  MessageList,
  MessageOut,
  Receipts,
  Recipient
} from './wire.gen.js';

/** The receipts of a message in one line. */
export function receiptText(r: Receipts, snippet: boolean): string {
  const parts = [`seen by ${r.seen} of ${r.recipients}`];
  if (snippet) {
    parts.push(`inserted by ${r.inserted}`);
  }
  if (r.acknowledged) {
    parts.push(`${r.acknowledged} got it`);
  }
  if (r.replied) {
    parts.push(`${r.replied} replied`);
  }
  if (r.delivered < r.recipients) {
    parts.push(`${r.recipients - r.delivered} not reached yet`);
  }
  return parts.join(' · ');
}

/** What one student did with a message, in words. */
export function recipientState(r: Recipient): string {
  if (r.acknowledgedAt) {
    return 'got it';
  }
  if (r.insertedAt) {
    return 'inserted the snippet';
  }
  if (r.seenAt) {
    return 'seen';
  }
  return r.deliveredAt ? 'delivered, not seen yet' : 'not reached yet';
}

export class MessagesView {
  private readonly root = byId<HTMLOListElement>('messages-list');
  private readonly team = byId<HTMLSelectElement>('messages-team');
  private readonly open = new Set<string>();
  private visible = false;
  private stale = true;
  private timer = 0;

  constructor(
    private readonly compose: Compose,
    private readonly teams: () => string[]
  ) {
    byId('messages-class').addEventListener('click', () =>
      this.compose({ kind: 'class' }, 'the whole class')
    );
    byId('messages-stuck').addEventListener('click', () =>
      this.compose({ kind: 'stuck' }, 'every student stuck now')
    );
    byId('messages-team-send').addEventListener('click', () => {
      if (this.team.value) {
        this.compose(
          { kind: 'team', team: this.team.value },
          `team ${this.team.value}`
        );
      }
    });
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible) {
      fillOptions(this.team, null, this.teams(), this.team.value || null);
      if (this.stale) {
        void this.load();
      }
    }
  }

  /** Receipts or replies changed (live feed), or a message was just sent. */
  onChanged(): void {
    this.stale = true;
    if (this.visible && !this.timer) {
      // Many students answer within a second: one reload for all of them.
      this.timer = window.setTimeout(() => {
        this.timer = 0;
        void this.load();
      }, 300);
    }
  }

  async load(): Promise<void> {
    this.stale = false;
    const list = await getJson<MessageList>('/api/v1/messages', { limit: 50 });
    setText(
      byId('messages-summary'),
      list.items.length ? '' : 'No message sent yet.'
    );
    this.root.replaceChildren(...list.items.map(m => this.item(m)));
    for (const id of this.open) {
      const holder = this.root.querySelector<HTMLElement>(
        `[data-message="${CSS.escape(id)}"] .message-recipients`
      );
      if (holder) {
        void this.loadDetail(id, holder);
      }
    }
  }

  private item(message: MessageOut): HTMLElement {
    const body = el('div', { class: 'message-body' });
    body.append(safeFragment(message.bodyHtml));
    const recipients = el('div', { class: 'message-recipients' });
    const toggle = el('button', {
      type: 'button',
      class: 'small',
      'aria-expanded': String(this.open.has(message.id)),
      text: 'Students'
    });
    toggle.addEventListener('click', () => {
      if (this.open.delete(message.id)) {
        recipients.replaceChildren();
        toggle.setAttribute('aria-expanded', 'false');
      } else {
        this.open.add(message.id);
        toggle.setAttribute('aria-expanded', 'true');
        void this.loadDetail(message.id, recipients);
      }
    });
    return el(
      'li',
      { class: 'message', 'data-message': message.id },
      el(
        'p',
        { class: 'message-head' },
        el('strong', { text: message.audience }),
        el('span', {
          class: 'muted',
          text: ` · ${timeOf(message.sentAt)} · ${message.sender}`
        })
      ),
      body,
      message.snippet
        ? el(
            'pre',
            { class: 'run-code' },
            el('code', { text: message.snippet })
          )
        : null,
      el(
        'p',
        { class: 'message-receipts', role: 'status' },
        receiptText(message.receipts, message.snippet !== null),
        ' ',
        toggle
      ),
      recipients
    );
  }

  private async loadDetail(id: string, holder: HTMLElement): Promise<void> {
    const detail = await getJson<MessageDetail>('/api/v1/messages/detail', {
      id
    });
    const rows = detail.recipients.map(r =>
      el(
        'li',
        {},
        el('span', { text: r.userName || r.student }),
        el('span', { class: 'muted', text: ` · ${recipientState(r)}` }),
        ...r.replies.map(reply =>
          el(
            'blockquote',
            { class: 'message-reply' },
            el('span', { text: reply.text }),
            el('span', { class: 'muted', text: ` · ${timeOf(reply.at)}` })
          )
        )
      )
    );
    holder.replaceChildren(el('ul', { class: 'plain' }, ...rows));
  }
}
