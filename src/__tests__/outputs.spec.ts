import { LIMITS, makeEvent, truncateHead, truncateTail } from '../events';
import { errorFromOutputs, summarizeOutputs } from '../outputs';
import { indicatorMessage } from '../statusMessage';
import type { LabStatus } from '../wire.gen';

describe('output summaries', () => {
  it('joins streams and plain-text results, naming rich outputs', () => {
    const text = summarizeOutputs([
      { output_type: 'stream', name: 'stdout', text: ['4', '2\n'] },
      { output_type: 'execute_result', data: { 'text/plain': '42' } },
      { output_type: 'display_data', data: { 'image/png': 'iVBOR' } }
    ]);
    expect(text).toBe('42\n42\n[image/png output]');
  });

  it('truncates long output to the result limit', () => {
    const text = summarizeOutputs([
      { output_type: 'stream', text: 'x'.repeat(LIMITS.result * 3) }
    ]);
    expect(text).toHaveLength(LIMITS.result);
    expect(text.endsWith('…')).toBe(true);
  });

  it('extracts the error without terminal colours, keeping the traceback end', () => {
    const error = errorFromOutputs([
      {
        output_type: 'error',
        ename: 'ZeroDivisionError',
        evalue: 'division by zero',
        traceback: [
          '\u001b[0;31m---------\u001b[0m',
          'x'.repeat(LIMITS.traceback),
          '\u001b[0;31mZeroDivisionError\u001b[0m: division by zero'
        ]
      }
    ])!;
    expect(error.errorName).toBe('ZeroDivisionError');
    expect(error.errorMessage).toBe('division by zero');
    expect(error.traceback).toHaveLength(LIMITS.traceback);
    expect(
      error.traceback.endsWith('ZeroDivisionError: division by zero')
    ).toBe(true);
    expect(error.traceback).not.toContain('\u001b');
    expect(errorFromOutputs([])).toBeUndefined();
  });

  it('truncates from the head or the tail', () => {
    expect(truncateHead('abcdef', 4)).toBe('abc…');
    expect(truncateTail('abcdef', 4)).toBe('…def');
    expect(truncateHead('abc', 4)).toBe('abc');
  });
});

describe('makeEvent', () => {
  it('stamps a unique id, the time, the session and only set identity fields', () => {
    const identity = {
      emailAddress: 'ada@example.org',
      userName: '',
      teamName: 'A'
    };
    const a = makeEvent('help', identity, 'session-1', {
      notebookPath: 'n.ipynb'
    });
    const b = makeEvent('help', identity, 'session-1');
    expect(a.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.eventId).not.toBe(b.eventId);
    expect(a).toMatchObject({
      eventType: 'help',
      sessionId: 'session-1',
      emailAddress: 'ada@example.org',
      teamName: 'A',
      notebookPath: 'n.ipynb'
    });
    expect('userName' in a).toBe(false);
    expect(Number.isNaN(Date.parse(a.eventTime))).toBe(false);
  });
});

describe('indicatorMessage', () => {
  const batcher = { pending: 0, dropped: 0, failures: 0, lastError: null };
  const server: LabStatus = {
    enabled: true,
    configured: true,
    serverUrl: 'https://class.example.org',
    hubUser: null,
    identity: null,
    queueLength: 12,
    unreachableSeconds: null,
    warnAfterSeconds: 120,
    lastError: null,
    queueError: null,
    state: 'ok',
    queueFull: false,
    lastDeliveryAt: null,
    delivered: 0,
    notice: {
      requireConsent: false,
      privacyContact: null,
      userId: null,
      engagement: true
    }
  };

  it('says nothing while events get through', () => {
    expect(indicatorMessage({ enabled: true, batcher, server })).toBe('');
    expect(
      indicatorMessage({
        enabled: true,
        batcher,
        server: { ...server, unreachableSeconds: 30 }
      })
    ).toBe('');
  });

  it('warns once the class server has been unreachable for long', () => {
    const message = indicatorMessage({
      enabled: true,
      batcher,
      server: { ...server, unreachableSeconds: 600 }
    });
    expect(message).toContain('unreachable for 10 min');
    expect(message).toContain('12 events saved');
  });

  it('warns when the Jupyter server does not answer or nothing is configured', () => {
    expect(
      indicatorMessage({
        enabled: true,
        batcher: { ...batcher, failures: 3, pending: 4 },
        server
      })
    ).toContain('4 events waiting');
    expect(
      indicatorMessage({
        enabled: true,
        batcher,
        server: { ...server, configured: false }
      })
    ).toContain('no class server');
    expect(
      indicatorMessage({
        enabled: true,
        batcher,
        server: { ...server, queueLength: 1, unreachableSeconds: 7200 }
      })
    ).toContain('for 2.0 h, 1 event saved');
    expect(indicatorMessage({ enabled: false, batcher, server: null })).toBe(
      ''
    );
  });
});
