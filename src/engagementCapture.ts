/**
 * Feeds the engagement tracker from JupyterLab and the page: the visible
 * notebook (page visibility and the shell's active tab), the active cell, its
 * content changes (counted, never read) and input for idle (key and pointer
 * events are noticed, their content is not looked at).
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { Cell, ICellModel } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';

import {
  DEFAULT_ENGAGEMENT,
  EngagementTracker,
  IEngagementOptions,
  IEngagementReport
} from './engagement';

const TICK_MS = 5000;
const INPUT_EVENTS = ['keydown', 'pointerdown', 'wheel'] as const;

export class EngagementCapture implements IDisposable {
  constructor(
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    report: (fields: IEngagementReport) => void,
    options: IEngagementOptions = DEFAULT_ENGAGEMENT
  ) {
    this._app = app;
    this._tracker = tracker;
    this.engagement = new EngagementTracker(report, options);
    app.shell.currentChanged?.connect(this._update, this);
    tracker.currentChanged.connect(this._update, this);
    tracker.activeCellChanged.connect(this._onActiveCell, this);
    document.addEventListener('visibilitychange', this._onVisibility);
    window.addEventListener('pagehide', this._onHide);
    for (const name of INPUT_EVENTS) {
      document.addEventListener(name, this._onInput, {
        capture: true,
        passive: true
      });
    }
    this._timer = window.setInterval(() => this.engagement.tick(), TICK_MS);
    this._update();
    this._onActiveCell();
  }

  readonly engagement: EngagementTracker;

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._app.shell.currentChanged?.disconnect(this._update, this);
    this._tracker.currentChanged.disconnect(this._update, this);
    this._tracker.activeCellChanged.disconnect(this._onActiveCell, this);
    this._watched?.sharedModel.changed.disconnect(this._onContent, this);
    document.removeEventListener('visibilitychange', this._onVisibility);
    window.removeEventListener('pagehide', this._onHide);
    for (const name of INPUT_EVENTS) {
      document.removeEventListener(name, this._onInput, { capture: true });
    }
    window.clearInterval(this._timer);
  }

  /** The visible notebook: the page is shown and a notebook is the active tab. */
  private _currentPanel(): NotebookPanel | null {
    if (document.visibilityState !== 'visible') {
      return null;
    }
    const current = this._app.shell.currentWidget;
    const panel = this._tracker.currentWidget;
    // Shells without a current widget (none in tests) count the tracked notebook.
    return panel && (current === null || current === panel) ? panel : null;
  }

  private _update(): void {
    this.engagement.setVisible(this._currentPanel() !== null);
    this._onActiveCell();
  }

  private _onActiveCell(): void {
    const panel = this._tracker.currentWidget;
    const cell: Cell | null = panel?.content.activeCell ?? null;
    const model = cell?.model ?? null;
    if (model !== this._watched) {
      this._watched?.sharedModel.changed.disconnect(this._onContent, this);
      this._watched = model;
      model?.sharedModel.changed.connect(this._onContent, this);
    }
    if (panel && cell && model) {
      const index = panel.content.widgets.indexOf(cell);
      this.engagement.setActiveCell(panel.context.path, model.id, index);
    }
  }

  /** Source changes only (outputs and execution counts change the model too). */
  private _onContent(_: unknown, change: { sourceChange?: unknown }): void {
    const panel = this._tracker.currentWidget;
    const model = this._watched;
    if (!panel || !model || !change.sourceChange) {
      return;
    }
    const index = panel.content.widgets.findIndex(c => c.model === model);
    if (index >= 0) {
      this.engagement.edit(panel.context.path, model.id, index);
    }
  }

  private readonly _onVisibility = (): void => this._update();
  private readonly _onHide = (): void =>
    this.engagement.setVisible(false, true);
  private readonly _onInput = (): void => this.engagement.input();

  private readonly _app: JupyterFrontEnd;
  private readonly _tracker: INotebookTracker;
  private _watched: ICellModel | null = null;
  private readonly _timer: number;
  private _isDisposed = false;
}
