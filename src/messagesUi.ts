/**
 * Messages in JupyterLab: a notification when one arrives, a side panel with
 * everything received, and the snippet inserted as a new code cell below the
 * active one (never over a cell of the student's).
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification, Sanitizer } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { AnnounceClaim, Announcer } from './announcer';
import { MessageList } from './messagePanel';
import { answerFields, IAnswer, MessageStore } from './messageStore';
import { IKeyValueStorage } from './queue';
import type { InboxMessage } from './wire.gen';

export const PANEL_ID = 'cell-monitor-messages';
const PREVIEW_CHARS = 140;

/** A speech bubble: messages from the instructor. */
export const messageIcon = new LabIcon({
  name: 'cell-monitor:messages',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5' +
    'a2 2 0 0 1 1-2zm3 5v2h10V8zm0 4v2h7v-2z"/></svg>'
});

export type Emit = (eventType: string, fields: Record<string, string>) => void;

/** The text of a message's HTML, short enough for a notification. */
export function preview(html: string, sanitizer: Sanitizer): string {
  const box = document.createElement('div');
  box.innerHTML = sanitizer.sanitize(html, { allowedTags: [] });
  const text = (box.textContent ?? '').replace(/\s+/g, ' ').trim();
  return text.length > PREVIEW_CHARS
    ? `${text.slice(0, PREVIEW_CHARS - 1)}…`
    : text;
}

export class MessagesUi {
  readonly store: MessageStore;
  private readonly panel = new Widget();
  private readonly list: MessageList;
  private readonly sanitizer = new Sanitizer();
  private readonly announcer: Announcer;

  constructor(
    private readonly app: JupyterFrontEnd,
    private readonly tracker: INotebookTracker,
    private readonly emit: Emit,
    storage: IKeyValueStorage | null,
    claim: AnnounceClaim
  ) {
    this.store = new MessageStore(storage);
    this.announcer = new Announcer(this.store, claim, message =>
      this.announce(message)
    );
    this.list = new MessageList(this.sanitizer, {
      answer: answer => this.answer(answer),
      insert: snippet => this.insert(snippet)
    });
    this.panel.id = PANEL_ID;
    this.panel.addClass('cm-MessagesPanel');
    this.panel.title.icon = messageIcon;
    this.panel.title.caption = 'Messages from your instructor';
    const heading = document.createElement('h2');
    heading.className = 'cm-MessagesPanel-title';
    heading.textContent = 'Messages from your instructor';
    this.panel.node.append(heading, this.list.node);
    this.list.render([]);
    app.shell.add(this.panel, 'right', { rank: 900 });
  }

  /** Messages from the inbox or the history: show all, announce the new ones once. */
  receive(items: readonly InboxMessage[]): void {
    // Merged (and listed) at once; the pop-up waits for the Jupyter server's word.
    void this.announcer.receive(items).then(() => this.render());
    this.render();
  }

  private announce(message: InboxMessage): void {
    Notification.info(
      `${message.sender}: ${preview(message.bodyHtml, this.sanitizer)}`,
      {
        autoClose: false,
        actions: [
          {
            label: message.snippet !== null ? 'Show the hint' : 'Show',
            callback: () => this.app.shell.activateById(PANEL_ID)
          }
        ]
      }
    );
    // Shown to the student: the instructor's "seen by" counts it.
    this.answer({ kind: 'message_seen', messageId: message.id });
  }

  private answer(answer: IAnswer): void {
    this.store.note(answer, new Date().toISOString());
    this.emit(answer.kind, answerFields(answer));
    this.render();
  }

  private insert(snippet: string): boolean {
    const panel = this.tracker.currentWidget;
    const notebook = panel?.content;
    if (!panel || !notebook || !notebook.model) {
      return false;
    }
    // A new cell below the active one (or at the end): nothing of theirs changes.
    NotebookActions.insertBelow(notebook);
    NotebookActions.changeCellType(notebook, 'code');
    notebook.activeCell?.model.sharedModel.setSource(snippet);
    this.app.shell.activateById(panel.id);
    return true;
  }

  private render(): void {
    this.list.render(this.store.list());
    const unread = this.store.unread();
    this.panel.title.label = '';
    this.panel.title.caption = unread
      ? `Messages from your instructor (${unread} new)`
      : 'Messages from your instructor';
  }
}
