import { ConnectionState, LiveSocket } from '../socket';

// A stand-in for the browser's WebSocket: the test opens, feeds and drops it.
class FakeSocket {
  static OPEN = 1;
  static made: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  private listeners: Record<string, ((event: any) => void)[]> = {};

  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }

  addEventListener(kind: string, listener: (event: any) => void): void {
    (this.listeners[kind] ??= []).push(listener);
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(): void {
    this.readyState = 3;
  }

  fire(kind: string, event: any = {}): void {
    if (kind === 'open') {
      this.readyState = 1;
    }
    for (const listener of this.listeners[kind] ?? []) {
      listener(event);
    }
  }
}

const options = {
  maxRetries: 3,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  silenceMs: 5000
};

function setup() {
  FakeSocket.made = [];
  const states: ConnectionState[] = [];
  const messages: unknown[] = [];
  const socket = new LiveSocket(
    () => 'ws://server/ws/dashboard',
    message => messages.push(message),
    state => states.push(state),
    options
  );
  return { socket, states, messages };
}

describe('LiveSocket', () => {
  beforeEach(() => {
    jest.useFakeTimers();
    (globalThis as any).WebSocket = FakeSocket;
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('answers heartbeats and passes messages on', () => {
    const { socket, states, messages } = setup();
    socket.connect();
    const ws = FakeSocket.made[0];
    ws.fire('open');
    ws.fire('message', { data: '{"type":"heartbeat","serverTime":"x"}' });
    expect(states.map(s => s.kind)).toEqual(['connecting', 'live']);
    expect(ws.sent).toEqual(['{"type":"heartbeat_response"}']);
    expect(messages).toHaveLength(1);
  });

  it('retries with backoff, then gives up until asked to reconnect', () => {
    const { socket, states } = setup();
    socket.connect();
    FakeSocket.made[0].fire('open');
    for (let attempt = 0; attempt <= options.maxRetries; attempt++) {
      FakeSocket.made[FakeSocket.made.length - 1].fire('close', { code: 1006 });
      jest.advanceTimersByTime(options.maxDelayMs);
    }
    const kinds = states.map(s => s.kind);
    expect(kinds.filter(k => k === 'waiting')).toHaveLength(options.maxRetries);
    expect(kinds[kinds.length - 1]).toBe('offline');
    expect(FakeSocket.made).toHaveLength(1 + options.maxRetries);

    socket.reconnectNow();
    expect(FakeSocket.made).toHaveLength(2 + options.maxRetries);
    FakeSocket.made[FakeSocket.made.length - 1].fire('open');
    expect(states[states.length - 1].kind).toBe('live');
  });

  it('takes a silent connection as dropped', () => {
    const { socket, states } = setup();
    socket.connect();
    FakeSocket.made[0].fire('open');
    jest.advanceTimersByTime(options.silenceMs + 1);
    expect(states[states.length - 1].kind).toBe('waiting');
    jest.advanceTimersByTime(options.maxDelayMs);
    expect(FakeSocket.made).toHaveLength(2);
  });

  it('resets the retry budget once connected again', () => {
    const { socket, states } = setup();
    socket.connect();
    FakeSocket.made[0].fire('close', { code: 1006 });
    jest.advanceTimersByTime(options.maxDelayMs);
    FakeSocket.made[1].fire('open');
    FakeSocket.made[1].fire('close', { code: 1006 });
    const last = states[states.length - 1];
    expect(last).toMatchObject({ kind: 'waiting', attempt: 1 });
  });
});
