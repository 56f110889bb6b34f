import { indicatorMessage } from '../statusMessage';
import type { DeliveryState, LabStatus } from '../wire.gen';

describe('indicatorMessage names why events do not get through', () => {
  const batcher = { pending: 0, dropped: 0, failures: 0, lastError: null };
  const server: LabStatus = {
    enabled: true,
    configured: true,
    hubUser: null,
    identity: null,
    serverUrl: 'http://class.example:8000',
    queueLength: 3,
    state: 'ok',
    queueFull: false,
    unreachableSeconds: null,
    warnAfterSeconds: 120,
    lastError: null,
    queueError: null,
    lastDeliveryAt: null,
    delivered: 0,
    notice: {
      requireConsent: false,
      privacyContact: null,
      userId: null,
      engagement: true
    }
  };
  const say = (changes: Partial<LabStatus>): string =>
    indicatorMessage({
      enabled: true,
      batcher,
      server: { ...server, ...changes }
    });

  it('says nothing while delivery works', () => {
    expect(say({})).toBe('');
  });

  it('shows a refused token at once, not after warnAfterSeconds', () => {
    const message = say({ state: 'refused', unreachableSeconds: 1 });
    expect(message).toContain('refused the ingest token');
    expect(message).toContain('3 events saved');
    expect(message).not.toContain('unreachable');
  });

  it('shows a URL that is not a cell-monitor server at once, naming it', () => {
    const message = say({ state: 'wrong_url', unreachableSeconds: 1 });
    expect(message).toContain(
      'http://class.example:8000 is not a cell-monitor class server'
    );
  });

  it('waits warnAfterSeconds before calling an outage an outage', () => {
    expect(say({ state: 'unreachable', unreachableSeconds: 30 })).toBe('');
    expect(say({ state: 'unreachable', unreachableSeconds: 600 })).toContain(
      'class server unreachable for 10 min'
    );
    expect(say({ state: 'server_error', unreachableSeconds: 30 })).toBe('');
    expect(say({ state: 'server_error', unreachableSeconds: 600 })).toContain(
      'failing for 10 min'
    );
  });

  it('reports an internal error at once', () => {
    expect(say({ state: 'internal_error', unreachableSeconds: 0 })).toContain(
      'see its log'
    );
  });

  it('says the queue is full, with the cause when there is one', () => {
    const full = say({
      queueFull: true,
      queueLength: 100000,
      state: 'refused'
    });
    expect(full).toContain(
      'queue on the Jupyter server is full (100000 events)'
    );
    expect(full).toContain('refused the ingest token');
  });

  it('gives every state a message of its own', () => {
    const states: DeliveryState[] = [
      'refused',
      'wrong_url',
      'unreachable',
      'server_error',
      'internal_error'
    ];
    const messages = states.map(state =>
      say({ state, unreachableSeconds: 600 })
    );
    expect(new Set(messages).size).toBe(states.length);
    expect(messages.every(message => message !== '')).toBe(true);
  });

  it('falls back to the outage message for an older server extension', () => {
    // Its answer has no `state`: the contract's type says what this version sends.
    const old: Partial<LabStatus> = { ...server };
    delete old.state;
    expect(
      indicatorMessage({
        enabled: true,
        batcher,
        server: { ...old, unreachableSeconds: 600 } as LabStatus
      })
    ).toContain('unreachable for 10 min');
  });
});
