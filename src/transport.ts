/**
 * Requests to the cell-monitor server extension: same origin, authenticated
 * and XSRF-protected by Jupyter itself (ServerConnection.makeRequest), so the
 * browser never talks to the class server and no CORS is involved.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IBatchSender, SendOutcome } from './batcher';
import { IMonitorEvent } from './events';
import type { AnnounceClaim } from './announcer';
import type { InboxFetch } from './inbox';
import type {
  AnnounceAnswer,
  AnnounceRequest,
  ClientTarget,
  InboxMessage,
  LabInbox,
  MessageHistory,
  LabStatus,
  QueueRequest
} from './wire.gen';

/** Settings the browser may contribute when the Jupyter server has none. */
export interface IClientTarget extends ClientTarget {
  /** The student accepted the data notice (checked where consent is required). */
  noticeAcknowledged?: boolean;
}

const API = 'cell-monitor';

export class ServerExtensionTransport implements IBatchSender {
  constructor(
    target: () => IClientTarget,
    settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {
    this._target = target;
    this._settings = settings;
  }

  async send(events: IMonitorEvent[]): Promise<SendOutcome> {
    const target = this._target();
    const body: QueueRequest = {
      events,
      consent: target.noticeAcknowledged === true
    };
    if (target.serverUrl) {
      body.target = {
        serverUrl: target.serverUrl,
        ingestToken: target.ingestToken
      };
    }
    let response: Response;
    try {
      response = await this._request('events', {
        method: 'POST',
        body: JSON.stringify(body)
      });
    } catch (error) {
      return { ok: false, error: `Jupyter server unreachable: ${error}` };
    }
    if (response.status === 202 || response.status === 200) {
      return { ok: true };
    }
    return {
      ok: false,
      error: `Jupyter server answered ${response.status}`,
      retryAfterMs: retryAfterMs(response.headers.get('Retry-After'))
    };
  }

  async status(): Promise<LabStatus | null> {
    try {
      const response = await this._request('status', { method: 'GET' });
      return response.ok ? ((await response.json()) as LabStatus) : null;
    } catch {
      return null;
    }
  }

  private _request(path: string, init: RequestInit): Promise<Response> {
    const url = URLExt.join(this._settings.baseUrl, API, path);
    return ServerConnection.makeRequest(url, init, this._settings);
  }

  private readonly _target: () => IClientTarget;
  private readonly _settings: ServerConnection.ISettings;
}

/** Retry-After in seconds (the only form our server sends) to ms. */
export function retryAfterMs(header: string | null): number | undefined {
  if (!header) {
    return undefined;
  }
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** The long-poll of the Jupyter server extension's `cell-monitor/inbox`. */
export function serverExtensionInbox(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): InboxFetch {
  return async (since, waitSeconds, signal) => {
    const query = URLExt.objectToQueryString({
      wait: String(waitSeconds),
      ...(since ? { since } : {})
    });
    const url = URLExt.join(settings.baseUrl, 'cell-monitor', 'inbox') + query;
    const response = await ServerConnection.makeRequest(
      url,
      { method: 'GET', signal },
      settings
    );
    return response.ok ? ((await response.json()) as LabInbox) : null;
  };
}

/** The student's message history (`cell-monitor/messages`), newest first; empty when unavailable. */
export function serverExtensionMessages(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): () => Promise<InboxMessage[]> {
  return async () => {
    try {
      const url = URLExt.join(settings.baseUrl, 'cell-monitor', 'messages');
      const response = await ServerConnection.makeRequest(
        url,
        { method: 'GET' },
        settings
      );
      return response.ok
        ? ((await response.json()) as MessageHistory).items
        : [];
    } catch {
      return []; // the inbox still delivers what is unseen
    }
  };
}

/** The Jupyter server's claim of which tab announces a message (`cell-monitor/messages/announce`). */
export function serverExtensionAnnounce(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): AnnounceClaim {
  return async ids => {
    const body: AnnounceRequest = { messageIds: ids };
    try {
      const url = URLExt.join(
        settings.baseUrl,
        'cell-monitor',
        'messages',
        'announce'
      );
      const response = await ServerConnection.makeRequest(
        url,
        { method: 'POST', body: JSON.stringify(body) },
        settings
      );
      return response.ok
        ? ((await response.json()) as AnnounceAnswer).announce
        : null;
    } catch {
      return null;
    }
  };
}
