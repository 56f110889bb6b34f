/**
 * Turns what happens in notebooks into events: cell executions, notebook
 * open/save/close and kernel restarts. Listens to JupyterLab's signals only;
 * the work per event is a few property reads, never anything that would slow
 * the notebook down.
 */

import { Cell, ICodeCellModel } from '@jupyterlab/cells';
import {
  INotebookTracker,
  KernelError,
  Notebook,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';

import { IMonitorEvent, LIMITS, truncateHead } from './events';
import {
  errorFromOutputs,
  IOutputLike,
  summarizeError,
  summarizeOutputs
} from './outputs';
import { testOutcomes } from './testCells';
import { durationFromCellMetadata, IReplyInfo, ReplyLog } from './timing';

/** Builds and queues an event (identity and ids are added by the caller). */
export type EmitEvent = (
  eventType: string,
  fields: Partial<IMonitorEvent>
) => void;

interface IExecutedArgs {
  notebook: Notebook;
  cell: Cell;
  success: boolean;
  error?: KernelError | null;
}

/** Test results and engagement a run carries (testCells.ts, engagement.ts). */
export interface IRunSignals {
  /** The cell tag of plain test cells ('' for none). */
  testTag(): string;
  /** The cell's edits and active time since the last report, taken along by its run. */
  takeCell(
    notebookPath: string,
    cellId: string
  ): { edits: number; activeMs: number } | null;
}

export class NotebookCapture implements IDisposable {
  constructor(
    tracker: INotebookTracker,
    emit: EmitEvent,
    signals: IRunSignals | null = null
  ) {
    this._tracker = tracker;
    this._emit = emit;
    this._signals = signals;
    tracker.widgetAdded.connect(this._onPanelAdded, this);
    tracker.forEach(panel => this._watch(panel));
    NotebookActions.executed.connect(this._onExecuted, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._tracker.widgetAdded.disconnect(this._onPanelAdded, this);
    NotebookActions.executed.disconnect(this._onExecuted, this);
    for (const stop of this._unwatch.values()) {
      stop();
    }
    this._unwatch.clear();
  }

  private _onPanelAdded(_: INotebookTracker, panel: NotebookPanel): void {
    this._watch(panel);
  }

  private _watch(panel: NotebookPanel): void {
    if (this._replies.has(panel.content)) {
      return;
    }
    const replies = new ReplyLog();
    this._replies.set(panel.content, replies);
    const path = () => panel.context.path;
    const stopKernel = watchKernel(panel, replies, (type: string) =>
      this._emit(type, { notebookPath: path() })
    );
    const onSaved = (_: unknown, state: string) => {
      if (state === 'completed') {
        this._emit('notebook_saved', { notebookPath: path() });
      }
    };
    panel.context.saveState.connect(onSaved);
    const stop = () => {
      stopKernel();
      panel.context.saveState.disconnect(onSaved);
    };
    this._unwatch.set(panel, stop);
    panel.disposed.connect(() => {
      stop();
      this._unwatch.delete(panel);
      if (!this._isDisposed) {
        this._emit('notebook_closed', { notebookPath: path() });
      }
    });
    void panel.context.ready.then(() => {
      if (!this._isDisposed && !panel.isDisposed) {
        this._emit('notebook_opened', { notebookPath: path() });
      }
    });
  }

  private _onExecuted(_: unknown, args: IExecutedArgs): void {
    const { notebook, cell, success, error } = args;
    if (cell.model.type !== 'code') {
      return; // "running" a markdown cell only renders it
    }
    const panel = this._tracker.find(p => p.content === notebook);
    if (!panel) {
      return;
    }
    const model = cell.model as ICodeCellModel;
    const reply = this._replies.get(notebook)?.take(model.id);
    const outputs = model.outputs.toJSON() as unknown as IOutputLike[];
    const cellIndex = notebook.widgets.indexOf(cell);
    const failure = errorFields(success, reply, error, outputs);
    this._emit('cell_executed', {
      notebookPath: panel.context.path,
      cellId: model.id,
      cellIndex,
      cellType: 'code',
      code: truncateHead(
        reply?.code ?? model.sharedModel.getSource(),
        LIMITS.code
      ),
      executionCount: reply?.executionCount ?? model.executionCount,
      executionDurationMs:
        reply?.durationMs ??
        durationFromCellMetadata(model.getMetadata('execution')),
      result: summarizeOutputs(outputs),
      kernelName: panel.sessionContext.session?.kernel?.name,
      ...failure,
      ...this._runSignals(panel, model, outputs, !failure.hasError, cellIndex)
    });
  }

  private _runSignals(
    panel: NotebookPanel,
    model: ICodeCellModel,
    outputs: IOutputLike[],
    succeeded: boolean,
    cellIndex: number
  ): Partial<IMonitorEvent> {
    if (!this._signals) {
      return {};
    }
    const fields: Partial<IMonitorEvent> = {};
    const metadata = model.sharedModel.getMetadata();
    const tests = testOutcomes(
      metadata,
      outputs,
      succeeded,
      cellIndex,
      this._signals.testTag()
    );
    if (tests.length > 0) {
      fields.tests = tests;
    }
    const taken = this._signals.takeCell(panel.context.path, model.id);
    if (taken && (taken.edits > 0 || taken.activeMs > 0)) {
      fields.edits = taken.edits;
      fields.activeMs = taken.activeMs;
    }
    return fields;
  }

  private readonly _tracker: INotebookTracker;
  private readonly _emit: EmitEvent;
  private readonly _signals: IRunSignals | null;
  private readonly _replies = new WeakMap<Notebook, ReplyLog>();
  private readonly _unwatch = new Map<NotebookPanel, () => void>();
  private _isDisposed = false;
}

/**
 * Follow the panel's kernel, whichever it is at the moment: feed its
 * messages to `replies` (execute replies carry the kernel's own timing, read
 * as they arrive, with no request made for them) and report restarts and
 * deaths. Returns the function that stops watching.
 */
function watchKernel(
  panel: NotebookPanel,
  replies: ReplyLog,
  report: (eventType: string) => void
): () => void {
  let kernel: Kernel.IKernelConnection | null = null;
  const onMessage = (_: unknown, args: Kernel.IAnyMessageArgs) =>
    replies.observe(args.msg, args.direction);
  const attach = () => {
    kernel?.anyMessage.disconnect(onMessage);
    kernel = panel.sessionContext.session?.kernel ?? null;
    kernel?.anyMessage.connect(onMessage);
  };
  const onStatus = (_: unknown, status: Kernel.Status) => {
    if (status === 'restarting' || status === 'autorestarting') {
      report('kernel_restarted');
    } else if (status === 'dead') {
      report('kernel_dead');
    }
  };
  panel.sessionContext.kernelChanged.connect(attach);
  panel.sessionContext.statusChanged.connect(onStatus);
  attach();
  return () => {
    kernel?.anyMessage.disconnect(onMessage);
    panel.sessionContext.kernelChanged.disconnect(attach);
    panel.sessionContext.statusChanged.disconnect(onStatus);
  };
}

/** The error of an execution: from the reply, else the outputs, else the signal. */
function errorFields(
  success: boolean,
  reply: IReplyInfo | undefined,
  error: KernelError | null | undefined,
  outputs: IOutputLike[]
): Partial<IMonitorEvent> {
  const failed = reply ? reply.status !== 'ok' : !success;
  if (!failed) {
    return { hasError: false };
  }
  const summary =
    reply?.errorName !== undefined
      ? summarizeError(
          reply.errorName,
          reply.errorMessage ?? '',
          reply.traceback ?? []
        )
      : (errorFromOutputs(outputs) ??
        (error
          ? summarizeError(error.errorName, error.errorValue, error.traceback)
          : undefined));
  return { hasError: true, ...(summary ?? {}) };
}
