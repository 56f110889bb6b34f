/**
 * The student's help request as the help buttons show it: the class server's
 * view from the inbox (or, where the server cannot tell students apart, a
 * toggle remembered in this browser), plus an action not yet confirmed.
 * No JupyterLab widgets here: the buttons (helpButton.ts) render it.
 */

import { newEventId } from './events';
import { InboxClient } from './inbox';
import { IKeyValueStorage } from './queue';
import type { HelpRequestView, LabInbox } from './wire.gen';

/** Sends a help event (the Monitor's emit). */
export type HelpSend = (
  eventType: 'help' | 'help_stop',
  fields: { notebookPath: string; helpRequestId?: string }
) => void;

export interface IHelpDisplay {
  label: string;
  title: string;
  active: boolean;
}

const STORAGE_PREFIX = 'cell-monitor:help:';
// "Closed by the instructor" stays on the button this long after the closing.
const CLOSED_SHOWN_MS = 15 * 60 * 1000;
// An action not confirmed by the inbox by then shows the server's state again.
const PENDING_MS = 30 * 1000;

/** 1st, 2nd, 3rd, 4th ... 11th, 12th, 13th, 21st ... */
export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) {
    return `${n}th`;
  }
  const suffix = { 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

export const ASK: IHelpDisplay = {
  label: 'Ask for help',
  title: 'Ask your instructor for help.',
  active: false
};

/** What the button says for the student's request as the class server holds it. */
export function helpDisplay(
  view: HelpRequestView | null,
  now: number = Date.now()
): IHelpDisplay {
  if (!view) {
    return ASK;
  }
  const withdraw = ' Click to withdraw the request.';
  switch (view.state) {
    case 'open':
      return {
        label: view.position
          ? `Help requested — ${ordinal(view.position)} in line`
          : 'Help requested',
        title: 'Your instructors have been asked for help.' + withdraw,
        active: true
      };
    case 'claimed':
      return {
        label: `${view.claimedBy ?? 'Your instructor'} is on the way`,
        title:
          'Someone is coming to help you. Click when you no longer need it.',
        active: true
      };
    case 'dismissed':
      if (view.closedAt && now - Date.parse(view.closedAt) < CLOSED_SHOWN_MS) {
        return {
          label: 'Closed by the instructor',
          title: 'Your request was closed. Click to ask for help again.',
          active: false
        };
      }
      return ASK;
    default:
      return ASK;
  }
}

type Pending =
  { kind: 'ask'; id: string; at: number } | { kind: 'withdraw'; at: number };

/**
 * The student's help request as all buttons show it: the inbox's view, plus
 * an action sent but not yet confirmed by the inbox.
 */
export class HelpRequestState {
  constructor(
    inbox: InboxClient | null,
    send: HelpSend,
    storage: IKeyValueStorage | null
  ) {
    this._inbox = inbox;
    this._send = send;
    this._storage = storage;
    inbox?.subscribe(copy => this._onInbox(copy));
  }

  /** The class server holds the request (else this browser does). */
  get shared(): boolean {
    return this._inbox?.current?.state === 'ok';
  }

  subscribe(listener: () => void): () => void {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  display(path: string, now: number = Date.now()): IHelpDisplay {
    if (!this.shared) {
      return this._local(path)
        ? { label: 'Help requested', title: LOCAL_REQUESTED, active: true }
        : ASK;
    }
    const pending = this._pending;
    if (pending && now - pending.at < PENDING_MS) {
      return pending.kind === 'ask'
        ? {
            label: 'Asking for help…',
            title: 'Sending your request.',
            active: true
          }
        : {
            label: 'Withdrawing…',
            title: 'Withdrawing your request.',
            active: false
          };
    }
    return helpDisplay(this._view(), now);
  }

  /** The button was pressed in the notebook at `path`. */
  toggle(path: string): void {
    if (!this.shared) {
      const requested = !this._local(path);
      this._setLocal(path, requested);
      this._send(requested ? 'help' : 'help_stop', { notebookPath: path });
      this._changed();
      return;
    }
    const view = this._view();
    const now = Date.now();
    const open = view && (view.state === 'open' || view.state === 'claimed');
    if (open) {
      this._pending = { kind: 'withdraw', at: now };
      this._send('help_stop', {
        notebookPath: path,
        ...(view.helpRequestId ? { helpRequestId: view.helpRequestId } : {})
      });
    } else {
      const id = newEventId();
      this._pending = { kind: 'ask', id, at: now };
      this._send('help', { notebookPath: path, helpRequestId: id });
    }
    this._changed();
  }

  private _view(): HelpRequestView | null {
    return this._inbox?.current?.inbox?.help ?? null;
  }

  private _onInbox(copy: LabInbox): void {
    const view = copy.inbox?.help ?? null;
    const pending = this._pending;
    if (pending?.kind === 'ask' && view?.helpRequestId === pending.id) {
      this._pending = null;
    } else if (
      pending?.kind === 'withdraw' &&
      !(view && (view.state === 'open' || view.state === 'claimed'))
    ) {
      this._pending = null;
    }
    this._changed();
  }

  private _changed(): void {
    for (const listener of Array.from(this._listeners)) {
      listener();
    }
  }

  private _local(path: string): boolean {
    try {
      return this._storage?.getItem(STORAGE_PREFIX + path) === '1';
    } catch {
      return false;
    }
  }

  private _setLocal(path: string, requested: boolean): void {
    try {
      if (requested) {
        this._storage?.setItem(STORAGE_PREFIX + path, '1');
      } else {
        this._storage?.removeItem(STORAGE_PREFIX + path);
      }
    } catch {
      /* the state then lasts until the page is reloaded */
    }
  }

  private readonly _inbox: InboxClient | null;
  private readonly _send: HelpSend;
  private readonly _storage: IKeyValueStorage | null;
  private readonly _listeners = new Set<() => void>();
  private _pending: Pending | null = null;
}

const LOCAL_REQUESTED =
  'Your instructor has been asked for help. Click when you no longer need it.';
