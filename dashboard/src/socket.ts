// The live feed: /ws/dashboard with heartbeats, reconnects with backoff and a
// bounded number of retries, after which the page offers a "Reconnect" button.

import { goToLogin } from './api.js';
import type { DashboardMessage, LiveFrame } from './wire.gen.js';

export type ConnectionState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'live' }
  | { kind: 'waiting'; attempt: number; retryAt: number }
  | { kind: 'offline' };

export interface ISocketOptions {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Without any frame for this long, the connection is taken as dead. */
  silenceMs: number;
}

export const DEFAULT_SOCKET_OPTIONS: ISocketOptions = {
  maxRetries: 10,
  baseDelayMs: 500,
  maxDelayMs: 15_000,
  silenceMs: 75_000
};

/** Close code the server uses for a signed-out dashboard. */
export const UNAUTHORIZED_CLOSE = 4401;

/** Exponential backoff with jitter: attempt 0 waits about baseDelayMs. */
export function backoffDelay(
  attempt: number,
  options: Pick<ISocketOptions, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number = Math.random
): number {
  const ceiling = Math.min(
    options.maxDelayMs,
    options.baseDelayMs * 2 ** attempt
  );
  // Half fixed, half random: dashboards dropped together don't return together.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function socketUrl(location: Location, path: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}

export class LiveSocket {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private silenceTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly url: () => string,
    private readonly onMessage: (message: LiveFrame) => void,
    private readonly onState: (state: ConnectionState) => void,
    private readonly options: ISocketOptions = DEFAULT_SOCKET_OPTIONS
  ) {}

  connect(): void {
    this.stopped = false;
    clearTimeout(this.retryTimer);
    this.onState({ kind: 'connecting', attempt: this.attempt });
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener('open', () => {
      if (socket === this.socket) {
        this.attempt = 0;
        this.onState({ kind: 'live' });
        this.watchSilence();
      }
    });
    socket.addEventListener('message', event => {
      if (socket !== this.socket) {
        return;
      }
      this.watchSilence();
      const message = JSON.parse(String(event.data)) as LiveFrame;
      if (message.type === 'heartbeat') {
        send(socket, { type: 'heartbeat_response' });
      }
      this.onMessage(message);
    });
    socket.addEventListener('close', event => {
      if (socket === this.socket) {
        this.dropped(event.code);
      }
    });
  }

  /** Ask the server for a fresh snapshot on the open connection. */
  resync(): void {
    if (this.socket?.readyState === WebSocket.OPEN) {
      send(this.socket, { type: 'resync' });
    }
  }

  /** Try again now (the "Reconnect" button), resetting the retry budget. */
  reconnectNow(): void {
    this.attempt = 0;
    this.discard();
    this.connect();
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.discard();
  }

  private discard(): void {
    clearTimeout(this.silenceTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  private watchSilence(): void {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => {
      // No heartbeat: the network dropped without a close frame.
      const socket = this.socket;
      if (socket) {
        this.discard();
        this.dropped(1006);
      }
    }, this.options.silenceMs);
  }

  private dropped(code: number): void {
    clearTimeout(this.silenceTimer);
    this.socket = null;
    if (code === UNAUTHORIZED_CLOSE) {
      goToLogin();
      return;
    }
    if (this.stopped) {
      return;
    }
    if (this.attempt >= this.options.maxRetries) {
      this.onState({ kind: 'offline' });
      return;
    }
    const delay = backoffDelay(this.attempt, this.options);
    this.attempt += 1;
    this.onState({
      kind: 'waiting',
      attempt: this.attempt,
      retryAt: Date.now() + delay
    });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

function send(socket: WebSocket, message: DashboardMessage): void {
  socket.send(JSON.stringify(message));
}
