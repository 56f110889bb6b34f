/**
 * Requests to the cell-monitor server extension: same origin, authenticated
 * and XSRF-protected by Jupyter itself (ServerConnection.makeRequest), so the
 * browser never talks to the class server and no CORS is involved.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IBatchSender, SendOutcome } from './batcher';
import { IMonitorEvent } from './events';

/**
 * Why delivery to the class server fails, as the server extension classifies
 * the class server's answers (cell_monitor/jupyter_ext/forwarder.py).
 */
export type DeliveryState =
  | 'ok'
  | 'refused'
  | 'wrong_url'
  | 'unreachable'
  | 'server_error'
  | 'internal_error';

/** What GET cell-monitor/status answers (see cell_monitor/jupyter_ext/handlers.py). */
export interface IServerStatus {
  enabled: boolean;
  /** The class server URL is known (admin config, or the student's setting). */
  configured: boolean;
  /** JupyterHub user name when running on a hub: identity comes from there. */
  hubUser: string | null;
  queueLength: number;
  /** What the last delivery attempt found (absent from older server extensions). */
  state?: DeliveryState;
  /** The server extension's queue is at its bound: new events wait in the browser. */
  queueFull?: boolean;
  /** Seconds since the class server last failed to answer, null when reachable. */
  unreachableSeconds: number | null;
  /** Show the student a warning once unreachable for this long. */
  warnAfterSeconds: number;
  lastError: string | null;
  /** Where events go (absent while none is configured). */
  serverUrl?: string | null;
  /** What the data notice needs from the Jupyter server's configuration. */
  notice?: INoticeConfig;
}

/** The operator's privacy configuration, as the server extension reports it. */
export interface INoticeConfig {
  /** Nothing is captured or sent until the student accepts the notice. */
  requireConsent: boolean;
  /** Who to ask for a copy or deletion of one's data. */
  privacyContact: string | null;
  /** The identity events carry when there is no hub user and no email. */
  userId: string | null;
}

/** Settings the browser may contribute when the Jupyter server has none. */
export interface IClientTarget {
  serverUrl: string;
  ingestToken: string;
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
    const body: Record<string, unknown> = {
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

  async status(): Promise<IServerStatus | null> {
    try {
      const response = await this._request('status', { method: 'GET' });
      return response.ok ? ((await response.json()) as IServerStatus) : null;
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
