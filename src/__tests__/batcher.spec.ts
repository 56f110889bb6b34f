import { EventBatcher, IBatchSender, SendOutcome } from '../batcher';
import { IMonitorEvent } from '../events';
import { PendingQueue } from '../queue';
import { fakeEvent, MemoryStorage } from './helpers';

/** A sender whose answers the test decides, recording every batch. */
class ScriptedSender implements IBatchSender {
  batches: IMonitorEvent[][] = [];
  outcomes: SendOutcome[] = [];

  async send(events: IMonitorEvent[]): Promise<SendOutcome> {
    this.batches.push(events);
    return this.outcomes.shift() ?? { ok: true };
  }

  get sentIds(): string[] {
    return this.batches.flat().map(e => e.eventId);
  }
}

function setup(maxEvents = 100) {
  const storage = new MemoryStorage();
  const queue = new PendingQueue({
    instanceId: 'page',
    maxEvents,
    storage
  });
  const sender = new ScriptedSender();
  const batcher = new EventBatcher(queue, sender, {
    flushIntervalMs: 1500,
    maxBatchEvents: 3,
    backoff: { initialMs: 1000, maxMs: 8000 },
    random: () => 0
  });
  return { storage, queue, sender, batcher };
}

/** Let timers fire and the promises they start settle. */
async function advance(ms: number): Promise<void> {
  await jest.advanceTimersByTimeAsync(ms);
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('EventBatcher', () => {
  it('sends a batch flushIntervalMs after the first event', async () => {
    const { sender, batcher } = setup();
    batcher.add(fakeEvent());
    await advance(1000);
    batcher.add(fakeEvent()); // does not push the deadline back
    await advance(499);
    expect(sender.batches).toHaveLength(0);
    await advance(1);
    expect(sender.batches).toHaveLength(1);
    expect(sender.batches[0]).toHaveLength(2);
  });

  it('sends at once when a batch is full, and drains in batches', async () => {
    const { sender, batcher, queue } = setup();
    for (let i = 0; i < 7; i++) {
      batcher.add(fakeEvent());
    }
    await advance(0);
    expect(sender.batches.map(b => b.length)).toEqual([3, 3, 1]);
    expect(queue.length).toBe(0);
  });

  it('keeps events until acknowledged and retries with growing delays', async () => {
    const { sender, batcher, queue } = setup();
    const event = fakeEvent();
    sender.outcomes = [
      { ok: false, error: 'down' },
      { ok: false, error: 'down' },
      { ok: false, error: 'down' }
    ];
    batcher.add(event);
    await advance(1500); // first attempt fails
    expect(batcher.state.failures).toBe(1);
    expect(batcher.state.lastError).toBe('down');
    await advance(499);
    expect(sender.batches).toHaveLength(1);
    await advance(1); // retry 1 after 500 ms (random = 0 → half the ceiling)
    expect(sender.batches).toHaveLength(2);
    await advance(999);
    expect(sender.batches).toHaveLength(2);
    await advance(1); // retry 2 after 1000 ms
    expect(sender.batches).toHaveLength(3);
    expect(queue.length).toBe(1);
    await advance(2000); // retry 3 succeeds
    expect(sender.batches).toHaveLength(4);
    expect(queue.length).toBe(0);
    expect(batcher.state.failures).toBe(0);
    expect(new Set(sender.sentIds)).toEqual(new Set([event.eventId]));
  });

  it('never gives up, and honours Retry-After', async () => {
    const { sender, batcher } = setup();
    sender.outcomes = Array.from({ length: 100 }, () => ({
      ok: false as const,
      error: 'down'
    }));
    sender.outcomes[0] = { ok: false, error: 'busy', retryAfterMs: 30000 };
    batcher.add(fakeEvent());
    await advance(1500);
    await advance(29999);
    expect(sender.batches).toHaveLength(1);
    await advance(1);
    expect(sender.batches).toHaveLength(2);
    await advance(20 * 8000);
    expect(sender.batches.length).toBeGreaterThan(15);
    expect(batcher.state.pending).toBe(1);
  });

  it('does not send new events early while backing off', async () => {
    const { sender, batcher } = setup();
    sender.outcomes = [{ ok: false, error: 'down' }];
    batcher.add(fakeEvent());
    await advance(1500);
    for (let i = 0; i < 5; i++) {
      batcher.add(fakeEvent()); // a full batch, but the retry timer decides
    }
    await advance(0);
    expect(sender.batches).toHaveLength(1);
    await advance(500); // the retry takes the new events along, in batches
    expect(sender.batches.map(b => b.length)).toEqual([1, 3, 3]);
    expect(batcher.state.pending).toBe(0);
  });

  it('treats a throwing sender as a failed attempt', async () => {
    const { batcher, queue } = setup();
    const sender = {
      send: jest.fn().mockRejectedValueOnce(new Error('network'))
    };
    const throwing = new EventBatcher(queue, sender, {
      flushIntervalMs: 10,
      maxBatchEvents: 3,
      backoff: { initialMs: 100, maxMs: 100 }
    });
    sender.send.mockResolvedValue({ ok: true });
    throwing.add(fakeEvent());
    await advance(10);
    expect(throwing.state.lastError).toContain('network');
    await advance(100);
    expect(queue.length).toBe(0);
    batcher.dispose();
  });

  it('sends events a reload left behind when asked to flush', async () => {
    const { sender, batcher, queue } = setup();
    queue.push(fakeEvent());
    batcher.flushSoon();
    await advance(0);
    expect(sender.batches).toHaveLength(1);
  });

  it('stops sending once disposed', async () => {
    const { sender, batcher } = setup();
    batcher.add(fakeEvent());
    batcher.dispose();
    await advance(5000);
    expect(sender.batches).toHaveLength(0);
  });

  it('reports its state on every change', async () => {
    const queue = new PendingQueue({
      instanceId: 'p',
      maxEvents: 10,
      storage: null
    });
    const states: number[] = [];
    const batcher = new EventBatcher(
      queue,
      new ScriptedSender(),
      {
        flushIntervalMs: 10,
        maxBatchEvents: 5,
        backoff: { initialMs: 10, maxMs: 10 }
      },
      state => states.push(state.pending)
    );
    batcher.add(fakeEvent());
    await advance(10);
    expect(states).toEqual([1, 0]);
  });
});
