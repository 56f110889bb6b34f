import {
  durationFromCellMetadata,
  kernelDurationMs,
  parseIsoMicros,
  ReplyLog
} from '../timing';

function header(msgType: string, msgId: string, date = '') {
  return {
    msg_id: msgId,
    msg_type: msgType,
    date,
    session: 's',
    username: 'u',
    version: '5.3'
  };
}

function request(msgId: string, cellId: string, code: string) {
  return {
    channel: 'shell',
    header: header('execute_request', msgId),
    parent_header: {},
    metadata: { cellId },
    content: { code }
  } as any;
}

function reply(parentId: string, content: Record<string, unknown>) {
  return {
    channel: 'shell',
    header: header(
      'execute_reply',
      `r-${parentId}`,
      '2026-01-01T10:00:00.004512Z'
    ),
    parent_header: header('execute_request', parentId),
    metadata: { started: '2026-01-01T10:00:00.001250Z' },
    content
  } as any;
}

describe('kernel timing', () => {
  it('keeps microseconds (a fast cell is not 0 ms)', () => {
    expect(
      kernelDurationMs(
        '2026-01-01T10:00:00.000100Z',
        '2026-01-01T10:00:00.000600Z'
      )
    ).toBeCloseTo(0.5, 6);
    expect(parseIsoMicros('2026-01-01T10:00:00+01:00')).toBe(
      Date.parse('2026-01-01T09:00:00Z')
    );
  });

  it('rejects missing, malformed or reversed stamps', () => {
    expect(kernelDurationMs(undefined, '2026-01-01T10:00:00Z')).toBeUndefined();
    expect(
      kernelDurationMs('yesterday', '2026-01-01T10:00:00Z')
    ).toBeUndefined();
    expect(
      kernelDurationMs('2026-01-01T10:00:01Z', '2026-01-01T10:00:00Z')
    ).toBeUndefined();
  });

  it('reads JupyterLab recordTiming metadata', () => {
    expect(
      durationFromCellMetadata({
        'shell.execute_reply.started': '2026-01-01T10:00:00.100Z',
        'shell.execute_reply': '2026-01-01T10:00:01.350Z'
      })
    ).toBe(1250);
    expect(durationFromCellMetadata(undefined)).toBeUndefined();
  });

  it('matches execute replies to cells through the request id', () => {
    const log = new ReplyLog();
    log.observe(request('m1', 'cell-a', '1/0'), 'send');
    log.observe(
      reply('m1', {
        status: 'error',
        execution_count: 3,
        ename: 'ZeroDivisionError',
        evalue: 'division by zero',
        traceback: ['line 1', 'line 2']
      }),
      'recv'
    );
    const info = log.take('cell-a')!;
    expect(info.durationMs).toBeCloseTo(3.262, 6);
    expect(info).toMatchObject({
      status: 'error',
      executionCount: 3,
      code: '1/0',
      errorName: 'ZeroDivisionError',
      errorMessage: 'division by zero',
      traceback: ['line 1', 'line 2']
    });
    expect(log.take('cell-a')).toBeUndefined();
  });

  it('ignores replies to requests it did not see, and stays bounded', () => {
    const log = new ReplyLog(2);
    log.observe(reply('unknown', { status: 'ok', execution_count: 1 }), 'recv');
    expect(log.take('cell-a')).toBeUndefined();
    for (const id of ['1', '2', '3']) {
      log.observe(request(id, `cell-${id}`, 'x'), 'send');
      log.observe(reply(id, { status: 'ok', execution_count: 1 }), 'recv');
    }
    expect(log.take('cell-1')).toBeUndefined();
    expect(log.take('cell-3')?.status).toBe('ok');
  });
});
