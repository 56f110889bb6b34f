// Writing a message or hint to a group the dashboard shows (a hotspot, a
// cluster, students stuck on a cell, a team, one student, the class).

import { ApiError, postJson } from './api.js';
import { byId, setText } from './dom.js';
import type { Audience, MessageIn, MessageOut } from './wire.gen.js';

/** Open the compose dialog for `audience`, described as `label` ("46 students with …"). */
export type Compose = (audience: Audience, label: string) => void;

/** A random UUID, also where crypto.randomUUID is missing (plain-HTTP pages). */
export function newRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What the dashboard posts for a message (a blank snippet is none). */
export function messageBody(
  requestId: string,
  audience: Audience,
  body: string,
  snippet: string
): MessageIn {
  return {
    requestId,
    body: body.trim(),
    snippet: snippet.trim() ? snippet.replace(/\s+$/, '') : null,
    audience
  };
}

export class ComposeDialog {
  private readonly dialog = byId<HTMLDialogElement>('compose-dialog');
  private readonly body = byId<HTMLTextAreaElement>('compose-body');
  private readonly snippet = byId<HTMLTextAreaElement>('compose-snippet');
  private readonly status = byId('compose-status');
  private readonly sendButton = byId<HTMLButtonElement>('compose-send');
  private audience: Audience | null = null;
  // One per composed message: a send retried after a lost answer is stored once.
  private requestId = '';

  constructor(private readonly sent: (message: MessageOut) => void) {
    byId('compose-form').addEventListener('submit', event => {
      event.preventDefault();
      void this.send();
    });
    for (const id of ['compose-close', 'compose-cancel']) {
      byId(id).addEventListener('click', () => this.dialog.close());
    }
  }

  open: Compose = (audience, label) => {
    this.audience = audience;
    this.requestId = newRequestId();
    setText(byId('compose-audience'), `To ${label}`);
    this.body.value = '';
    this.snippet.value = '';
    setText(this.status, '');
    this.sendButton.disabled = false;
    this.dialog.showModal();
    this.body.focus();
  };

  private async send(): Promise<void> {
    if (!this.audience || !this.body.value.trim()) {
      setText(this.status, 'Write a message first.');
      this.body.focus();
      return;
    }
    this.sendButton.disabled = true;
    setText(this.status, 'Sending…');
    try {
      const message = await postJson<MessageOut>(
        '/api/v1/messages',
        messageBody(
          this.requestId,
          this.audience,
          this.body.value,
          this.snippet.value
        )
      );
      const n = message.receipts.recipients;
      this.dialog.close();
      setText(
        byId('live-region'),
        `Message sent to ${n} student${n === 1 ? '' : 's'}.`
      );
      this.sent(message);
    } catch (error) {
      const detail = error instanceof ApiError ? error.message : String(error);
      setText(this.status, `Not sent: ${detail}`);
      this.sendButton.disabled = false;
    }
  }
}
