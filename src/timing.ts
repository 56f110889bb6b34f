/**
 * Kernel execution time: when the kernel started executing the request
 * (`metadata.started` of the execute_reply, set by ipykernel) to when it sent
 * the reply (the reply header's `date`). Both stamps come from the kernel's
 * clock, so neither network latency nor the browser's own work is counted,
 * unlike timing an event handler. JupyterLab stores the same two stamps in the
 * cell metadata when its `recordTiming` setting is on; that is the fallback.
 */

import type { KernelMessage } from '@jupyterlab/services';

/** What the execute_reply told about one execution. */
export interface IReplyInfo {
  /** The code the kernel ran (the cell may have been edited since). */
  code?: string;
  durationMs: number | undefined;
  status: string;
  executionCount: number | null;
  errorName?: string;
  errorMessage?: string;
  traceback?: string[];
}

/**
 * Milliseconds between two ISO 8601 stamps, keeping microseconds (ipykernel
 * writes six fraction digits; Date.parse would drop below the millisecond and
 * turn a fast cell into 0 ms).
 */
export function kernelDurationMs(
  started: unknown,
  finished: unknown
): number | undefined {
  const start = parseIsoMicros(started);
  const end = parseIsoMicros(finished);
  if (start === undefined || end === undefined || end < start) {
    return undefined;
  }
  return Math.round((end - start) * 1000) / 1000;
}

const ISO_FRACTION =
  /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/;

/** An ISO 8601 time as fractional milliseconds since the epoch. */
export function parseIsoMicros(value: unknown): number | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  const match = ISO_FRACTION.exec(value.trim());
  if (!match) {
    return undefined;
  }
  const [, seconds, fraction = '', zone = 'Z'] = match;
  const whole = Date.parse(seconds + zone);
  if (Number.isNaN(whole)) {
    return undefined;
  }
  return whole + Number(`0.${fraction || '0'}`) * 1000;
}

/** Duration from JupyterLab's `execution` cell metadata (recordTiming). */
export function durationFromCellMetadata(
  execution: unknown
): number | undefined {
  if (!execution || typeof execution !== 'object') {
    return undefined;
  }
  const timing = execution as Record<string, unknown>;
  return kernelDurationMs(
    timing['shell.execute_reply.started'],
    timing['shell.execute_reply']
  );
}

/** The facts of one execute_reply message. */
export function replyInfo(reply: KernelMessage.IExecuteReplyMsg): IReplyInfo {
  const content = reply.content as unknown as Record<string, unknown>;
  const info: IReplyInfo = {
    durationMs: kernelDurationMs(
      (reply.metadata as Record<string, unknown> | undefined)?.started,
      reply.header.date
    ),
    status: String(content.status),
    executionCount:
      typeof content.execution_count === 'number'
        ? content.execution_count
        : null
  };
  if (content.status === 'error') {
    info.errorName = String(content.ename ?? '');
    info.errorMessage = String(content.evalue ?? '');
    info.traceback = Array.isArray(content.traceback)
      ? content.traceback.map(String)
      : [];
  }
  return info;
}

/**
 * Remembers the execute_reply of recent requests by cell id.
 *
 * JupyterLab puts the cell id into the execute_request's metadata; the reply
 * names the request in its parent header. Only the last replies are kept, so
 * memory stays bounded whatever the notebook does.
 */
export class ReplyLog {
  constructor(private readonly _capacity = 200) {}

  /** Feed every message the kernel connection sends or receives. */
  observe(msg: KernelMessage.IMessage, direction: 'send' | 'recv'): void {
    if (direction === 'send' && msg.header.msg_type === 'execute_request') {
      const cellId = (msg.metadata as Record<string, unknown> | undefined)
        ?.cellId;
      if (typeof cellId === 'string') {
        const code = (msg.content as Record<string, unknown>).code;
        this._remember(this._requests, msg.header.msg_id, {
          cellId,
          code: typeof code === 'string' ? code : undefined
        });
      }
    } else if (
      direction === 'recv' &&
      msg.header.msg_type === 'execute_reply' &&
      msg.channel === 'shell'
    ) {
      const parentId = (msg.parent_header as Partial<KernelMessage.IHeader>)
        ?.msg_id;
      const request = parentId ? this._requests.get(parentId) : undefined;
      if (parentId && request) {
        this._requests.delete(parentId);
        this._remember(this._replyByCell, request.cellId, {
          ...replyInfo(msg as KernelMessage.IExecuteReplyMsg),
          code: request.code
        });
      }
    }
  }

  /** The reply of the last execution of `cellId`, forgotten once taken. */
  take(cellId: string): IReplyInfo | undefined {
    const info = this._replyByCell.get(cellId);
    this._replyByCell.delete(cellId);
    return info;
  }

  private _remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    while (map.size > this._capacity) {
      const oldest = map.keys().next().value as string;
      map.delete(oldest);
    }
  }

  private readonly _requests = new Map<
    string,
    { cellId: string; code?: string }
  >();
  private readonly _replyByCell = new Map<string, IReplyInfo>();
}
