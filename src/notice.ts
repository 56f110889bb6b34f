/**
 * The data notice: what it says, and whether capture may run given the
 * student's answer and the operator's configuration. Pure logic; the dialog
 * that shows it is in noticeDialog.ts.
 */

import { IMonitorSettings } from './settings';
import type { LabStatus, NoticeConfig } from './wire.gen';

/** What is collected, in the student's words (kept in step with docs/privacy.md). */
export const COLLECTED_ITEMS: readonly string[] = [
  'the code of every cell you run, with its execution count and position in the notebook',
  'a short summary of the output, and error names, messages and tracebacks',
  'how long each cell took to run',
  'the names (paths) of the notebooks you open, save and close',
  'your "Ask for help" requests',
  'kernel restarts and crashes',
  "what you do with your instructor's messages (seen, snippet inserted, got it) and your replies",
  'the outcome of test cells (nbgrader tests, otter-grader checks, tagged test cells): passed or failed per question'
];

/**
 * Engagement signals, listed unless the course turned them off. Counts and
 * durations only: never what you type.
 */
export const ENGAGEMENT_ITEMS: readonly string[] = [
  'whether the notebook is visible (this browser tab and the notebook tab in front) or hidden for more than a minute, and when you are idle (no input for 5 minutes)',
  'which cell you are on, how many edits each cell had and how long it was active, as counts and durations: never the keys you press or text you have not run'
];

export interface INoticeContent {
  title: string;
  /** Where the data goes. */
  destination: string;
  /** Which identity the events carry. */
  identity: string;
  collected: readonly string[];
  /** How to obtain a copy or the deletion of one's data. */
  rights: string;
  /** Consent is required: declining means nothing is captured. */
  requireConsent: boolean;
}

/**
 * Where capture stands:
 * - `unknown`: the Jupyter server has not answered yet, so whether consent is
 *   required is not known (events wait in memory, not in the queue);
 * - `allowed`: capture and send;
 * - `awaiting-consent`: consent is required and not given: nothing is captured.
 */
export type ConsentState = 'unknown' | 'allowed' | 'awaiting-consent';

export function consentState(
  settings: IMonitorSettings,
  config: NoticeConfig | null
): ConsentState {
  if (settings.noticeAcknowledged) {
    return 'allowed';
  }
  if (config === null) {
    return 'unknown';
  }
  return config.requireConsent ? 'awaiting-consent' : 'allowed';
}

/**
 * The notice is shown once: until acknowledged, as soon as the server has said
 * what it needs (`config`), and never while capture is switched off.
 */
export function shouldShowNotice(
  settings: IMonitorSettings,
  config: NoticeConfig | null
): boolean {
  return settings.enabled && config !== null && !settings.noticeAcknowledged;
}

/** The notice part of a status answer; an older server extension has none. */
export function noticeConfigOf(status: LabStatus | null): NoticeConfig | null {
  if (status === null) {
    return null;
  }
  return (
    status.notice ?? {
      requireConsent: false,
      privacyContact: null,
      userId: null,
      engagement: true
    }
  );
}

function identityText(
  settings: IMonitorSettings,
  status: LabStatus | null
): string {
  if (status?.hubUser) {
    // The class server binds hub events to the hub user, and to the team of
    // the user's team group on the hub when there is one (docs/privacy.md).
    return (
      `your JupyterHub user name (${status.hubUser}), in the team your ` +
      'JupyterHub groups give you (the team in your settings only if they ' +
      'give none)'
    );
  }
  if (settings.emailAddress) {
    return `the email address in your Cell Monitor settings (${settings.emailAddress})`;
  }
  const userId = status?.notice?.userId;
  return userId
    ? `your user name on this computer (${userId})`
    : 'your user name on this computer';
}

function destinationText(
  settings: IMonitorSettings,
  status: LabStatus | null
): string {
  const url = status?.serverUrl || settings.serverUrl;
  const where = url
    ? `your class's cell-monitor server at ${url}`
    : "your class's cell-monitor server (none is configured yet)";
  return (
    `Your Jupyter server forwards it to ${where}, where your instructors ` +
    'and teaching assistants see it live and after class.'
  );
}

function rightsText(config: NoticeConfig | undefined): string {
  const contact = config?.privacyContact
    ? `Contact ${config.privacyContact}`
    : 'Ask your instructor';
  return (
    `${contact} to get a copy of your data or to have it deleted. ` +
    'You can turn capture off in Settings → Settings Editor → Cell Monitor.'
  );
}

export function noticeContent(
  settings: IMonitorSettings,
  status: LabStatus | null
): INoticeContent {
  const requireConsent = status?.notice?.requireConsent === true;
  return {
    title: requireConsent
      ? 'Cell Monitor: your consent is needed'
      : 'Cell Monitor: what is collected',
    destination: destinationText(settings, status),
    identity: `Your activity is recorded under ${identityText(settings, status)}.`,
    collected:
      status?.notice?.engagement === false
        ? COLLECTED_ITEMS
        : [...COLLECTED_ITEMS, ...ENGAGEMENT_ITEMS],
    rights: rightsText(status?.notice),
    requireConsent
  };
}

/** The notice as plain text (for the dialog body's fallback and for tests). */
export function noticeText(content: INoticeContent): string {
  const lines = [
    'While you work in notebooks, this JupyterLab records:',
    ...content.collected.map(item => `• ${item}`),
    content.identity,
    content.destination,
    content.rights
  ];
  if (content.requireConsent) {
    lines.push('Nothing is recorded or sent unless you accept.');
  }
  return lines.join('\n');
}

/**
 * Events captured before the Jupyter server said whether consent is required:
 * held in memory only (never in the persistent queue), then released or
 * discarded once it is known.
 */
export class PreConsentBuffer<T> {
  constructor(readonly limit = 200) {}

  hold(item: T): void {
    if (this._items.length < this.limit) {
      this._items.push(item);
    }
  }

  /** Hand everything held over (when capture is allowed) or drop it. */
  settle(allowed: boolean, deliver: (item: T) => void): void {
    const items = this._items;
    this._items = [];
    if (allowed) {
      items.forEach(deliver);
    }
  }

  get size(): number {
    return this._items.length;
  }

  private _items: T[] = [];
}
