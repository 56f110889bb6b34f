/**
 * The message panel's content: every message the instructor sent this student,
 * newest first, with its snippet ("Insert as a new cell below"), "Got it" and a
 * short reply. Plain DOM, so it is tested without a JupyterLab; the HTML of a
 * message goes in only through the sanitizer it is given (JupyterLab's own).
 */

import { IAnswer, MAX_REPLY_CHARS } from './messageStore';
import { InboxMessage, MARKDOWN_ALLOWLIST } from './wire.gen';

export interface ISanitizer {
  sanitize(
    html: string,
    options?: {
      allowedTags?: string[];
      allowedAttributes?: { [tag: string]: string[] };
      allowedSchemes?: string[];
    }
  ): string;
}

// The contract's allowlist, the one the server renders Markdown to (images off:
// no request to another server when a message opens).
const SANITIZE_OPTIONS = {
  allowedTags: MARKDOWN_ALLOWLIST.tags,
  allowedAttributes: MARKDOWN_ALLOWLIST.attributes,
  // The sanitizer checks scheme names; the prefixes are checked below.
  allowedSchemes: MARKDOWN_ALLOWLIST.linkPrefixes.map(p => p.split(':')[0])
};
const CODE_CLASS = new RegExp(MARKDOWN_ALLOWLIST.codeClassPattern);

/** What is left of a message's HTML after the sanitizer, held to the rest of the allowlist. */
function holdToAllowlist(body: HTMLElement): void {
  for (const link of Array.from(body.querySelectorAll('a'))) {
    const href = (link.getAttribute('href') ?? '').trim();
    for (const name of link.getAttributeNames()) {
      link.removeAttribute(name);
    }
    // Only absolute links: a relative one would open the student's own Jupyter server.
    const lower = href.toLowerCase();
    if (MARKDOWN_ALLOWLIST.linkPrefixes.some(p => lower.startsWith(p))) {
      link.setAttribute('href', href);
      link.setAttribute('target', MARKDOWN_ALLOWLIST.linkTarget);
      link.setAttribute('rel', MARKDOWN_ALLOWLIST.linkRel);
    }
  }
  for (const code of Array.from(body.querySelectorAll('code[class]'))) {
    if (!CODE_CLASS.test(code.getAttribute('class') ?? '')) {
      code.removeAttribute('class');
    }
  }
}

export interface IMessageActions {
  /** Report what the student did (seen, inserted, got it, reply). */
  answer(answer: IAnswer): void;
  /** Insert `snippet` as a new cell below the active one; false when no notebook is open. */
  insert(snippet: string): boolean;
}

function node<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  element.className = className;
  if (text !== undefined) {
    element.textContent = text;
  }
  return element;
}

function when(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export class MessageList {
  readonly node = node('div', 'cm-MessageList');

  constructor(
    private readonly sanitizer: ISanitizer,
    private readonly actions: IMessageActions
  ) {
    this.node.setAttribute('role', 'feed');
    this.node.setAttribute('aria-label', 'Messages from your instructor');
  }

  render(messages: readonly InboxMessage[]): void {
    if (!messages.length) {
      this.node.replaceChildren(
        node(
          'p',
          'cm-MessageList-empty',
          'No message from your instructor yet.'
        )
      );
      return;
    }
    this.node.replaceChildren(...messages.map(m => this.item(m)));
  }

  private item(message: InboxMessage): HTMLElement {
    const article = node('article', 'cm-Message');
    article.dataset.messageId = message.id;
    if (!message.seenAt) {
      article.classList.add('cm-Message-new');
    }
    const head = node('header', 'cm-Message-head');
    head.append(
      node('strong', '', message.sender),
      node('span', 'cm-Message-time', ` · ${when(message.sentAt)}`)
    );
    const body = node('div', 'cm-Message-body');
    // Rendered from Markdown on the server; sanitized here once more.
    body.innerHTML = this.sanitizer.sanitize(
      message.bodyHtml,
      SANITIZE_OPTIONS
    );
    holdToAllowlist(body);
    article.append(head, body);
    if (message.snippet !== null) {
      article.append(this.snippet(message, message.snippet));
    }
    article.append(this.answers(message));
    return article;
  }

  private snippet(message: InboxMessage, snippet: string): HTMLElement {
    const box = node('div', 'cm-Message-snippet');
    const pre = node('pre', '');
    pre.append(node('code', '', snippet));
    const insert = node(
      'button',
      'jp-Button cm-Message-insert',
      message.insertedAt ? 'Insert again' : 'Insert as a new cell below'
    );
    insert.type = 'button';
    const status = node('span', 'cm-Message-status');
    status.setAttribute('role', 'status');
    insert.addEventListener('click', () => {
      if (this.actions.insert(snippet)) {
        this.actions.answer({
          kind: 'message_inserted',
          messageId: message.id
        });
        status.textContent = 'Inserted below your current cell.';
      } else {
        status.textContent = 'Open a notebook and click a cell first.';
      }
    });
    box.append(pre, insert, status);
    return box;
  }

  private answers(message: InboxMessage): HTMLElement {
    const footer = node('footer', 'cm-Message-answers');
    const gotIt = node(
      'button',
      'jp-Button cm-Message-gotit',
      message.acknowledgedAt ? '✓ Got it' : 'Got it'
    );
    gotIt.type = 'button';
    gotIt.disabled = message.acknowledgedAt !== null;
    gotIt.addEventListener('click', () =>
      this.actions.answer({
        kind: 'message_acknowledged',
        messageId: message.id
      })
    );
    const form = node('form', 'cm-Message-reply');
    const input = node('input', 'jp-InputGroup cm-Message-replyText');
    input.type = 'text';
    input.maxLength = MAX_REPLY_CHARS;
    input.placeholder = 'Reply…';
    input.setAttribute('aria-label', `Reply to ${message.sender}`);
    const send = node('button', 'jp-Button cm-Message-send', 'Send');
    send.type = 'submit';
    form.append(input, send);
    form.addEventListener('submit', event => {
      event.preventDefault();
      const text = input.value.trim();
      if (text) {
        this.actions.answer({
          kind: 'message_reply',
          messageId: message.id,
          replyText: text
        });
        input.value = '';
      }
    });
    footer.append(gotIt, form);
    for (const reply of message.replies) {
      footer.append(
        node(
          'p',
          'cm-Message-myReply',
          `You: ${reply.text} · ${when(reply.at)}`
        )
      );
    }
    return footer;
  }
}
