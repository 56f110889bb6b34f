import { PendingQueue } from '../queue';
import { fakeEvent, MemoryStorage } from './helpers';

function queue(storage: MemoryStorage | null, options = {}) {
  return new PendingQueue({
    instanceId: 'page-1',
    maxEvents: 3,
    storage,
    ...options
  });
}

describe('PendingQueue', () => {
  it('keeps events in order until they are acknowledged', () => {
    const q = queue(new MemoryStorage());
    const [a, b, c] = [fakeEvent(), fakeEvent(), fakeEvent()];
    [a, b, c].forEach(e => q.push(e));
    expect(q.peek(2)).toEqual([a, b]);
    expect(q.peek(2)).toEqual([a, b]); // peeking does not remove
    q.acknowledge([a.eventId]);
    expect(q.peek(5)).toEqual([b, c]);
  });

  it('drops the oldest events beyond the bound and counts them', () => {
    const q = queue(null);
    const events = [1, 2, 3, 4, 5].map(() => fakeEvent());
    events.forEach(e => q.push(e));
    expect(q.length).toBe(3);
    expect(q.dropped).toBe(2);
    expect(q.peek(3)).toEqual(events.slice(2));
  });

  it('ignores an event pushed twice', () => {
    const q = queue(null);
    const a = fakeEvent();
    q.push(a);
    q.push(a);
    expect(q.length).toBe(1);
  });

  it('mirrors pending events into storage and clears the key when empty', () => {
    const storage = new MemoryStorage();
    const q = queue(storage);
    const a = fakeEvent();
    q.push(a);
    expect(JSON.parse(storage.getItem('cell-monitor:pending:page-1')!)).toEqual(
      [a]
    );
    q.acknowledge([a.eventId]);
    expect(storage.getItem('cell-monitor:pending:page-1')).toBeNull();
  });

  it('survives a reload: the next page adopts what the last one left', () => {
    const storage = new MemoryStorage();
    let now = 1000;
    const before = queue(storage, { now: () => now });
    const left = [fakeEvent(), fakeEvent()];
    before.heartbeat();
    left.forEach(e => before.push(e));
    before.release(); // pagehide

    const after = new PendingQueue({
      instanceId: 'page-2',
      maxEvents: 10,
      storage,
      now: () => now
    });
    now += 10;
    expect(after.adoptOrphans()).toBe(2);
    expect(after.peek(10)).toEqual(left);
    expect(storage.getItem('cell-monitor:pending:page-1')).toBeNull();
    expect(
      JSON.parse(storage.getItem('cell-monitor:pending:page-2')!)
    ).toHaveLength(2);
  });

  it('leaves the events of a live page alone and adopts them once it is stale', () => {
    const storage = new MemoryStorage();
    let now = 0;
    const other = queue(storage, { now: () => now });
    other.heartbeat();
    other.push(fakeEvent());
    const mine = new PendingQueue({
      instanceId: 'page-2',
      maxEvents: 10,
      storage,
      staleAfterMs: 30000,
      now: () => now
    });
    now = 20000;
    expect(mine.adoptOrphans()).toBe(0);
    now = 31000;
    expect(mine.adoptOrphans()).toBe(1);
  });

  it('adopts events of a page that crashed before its first heartbeat', () => {
    const storage = new MemoryStorage();
    storage.setItem(
      'cell-monitor:pending:crashed',
      JSON.stringify([fakeEvent(), { not: 'an event' }])
    );
    storage.setItem('cell-monitor:pending:garbage', '{not json');
    const q = queue(storage);
    expect(q.adoptOrphans()).toBe(1);
    expect(storage.getItem('cell-monitor:pending:garbage')).toBeNull();
  });

  it('keeps working in memory when storage refuses writes', () => {
    const storage = new MemoryStorage();
    storage.failWrites = true;
    const q = queue(storage);
    q.push(fakeEvent());
    q.heartbeat();
    expect(q.length).toBe(1);
  });
});
