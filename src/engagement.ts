/**
 * Engagement signals without content: whether the notebook is visible, which
 * cell is active, how many edits each cell had and how long it was active
 * (visible and not idle), and idle (no input for `idleMs`). No keystroke, no
 * text: an edit is counted, never read.
 *
 * Pure logic with an injected clock (engagementCapture.ts feeds it from
 * JupyterLab and the page). Few events, by design:
 * - a run takes its own cell's counts along (`takeCell`, on cell_executed);
 * - edits not taken by a run are reported once the oldest is `throttleMs` old
 *   (2 minutes: most edits are run before), in one event for all cells, so at
 *   most one event per cell per throttleMs; `editingMs` says how long before
 *   the report the oldest edit was (the server's "editing since");
 * - active time alone (reading) waits up to `timeFlushMs`, or the next event;
 * - looking away is reported once it has lasted `glanceMs` (a glance at
 *   another tab is not worth an event: away takes minutes), with `hiddenMs`,
 *   how long before the report it began; coming back after such a report, idle
 *   changes and leaving the page are reported when they happen.
 */

import type { IMonitorEvent } from './events';
import type { CellActivity } from './wire.gen';

export interface IEngagementOptions {
  throttleMs: number;
  idleMs: number;
  timeFlushMs: number;
  /** Looking away for less than this is not reported. */
  glanceMs: number;
}

export const DEFAULT_ENGAGEMENT: IEngagementOptions = {
  throttleMs: 120000,
  idleMs: 5 * 60000,
  timeFlushMs: 5 * 60000,
  glanceMs: 60000
};

/** The fields of one `engagement` event. */
export interface IEngagementReport {
  notebookPath?: string;
  cellId?: string;
  cellIndex?: number;
  visible: boolean;
  idle: boolean;
  cells: CellActivity[];
  /** How long before this report the oldest reported edit happened. */
  editingMs?: number;
  /** Hidden: how long before this report the notebook was hidden. */
  hiddenMs?: number;
}

interface IPending {
  cellIndex: number;
  edits: number;
  activeMs: number;
}

interface IActive {
  notebookPath: string;
  cellId: string;
  cellIndex: number;
}

export class EngagementTracker {
  constructor(
    private readonly report: (fields: IEngagementReport) => void,
    private readonly options: IEngagementOptions = DEFAULT_ENGAGEMENT,
    private readonly now: () => number = Date.now
  ) {
    this._since = this._lastInput = this._lastReport = now();
  }

  get visible(): boolean {
    return this._visible;
  }

  get idle(): boolean {
    return this._idle;
  }

  /**
   * The page is visible and a notebook is the active tab (or not). `leaving`:
   * the page is going away, so the hidden notebook is reported now.
   */
  setVisible(visible: boolean, leaving = false): void {
    if (visible !== this._visible) {
      this._accrue();
      this._visible = visible;
      this._hiddenAt = visible ? null : this.now();
      if (visible) {
        this._markInput();
      }
    }
    if (this._reported !== visible && (visible || leaving)) {
      this._send();
    }
  }

  /** The cell the student is on (its position may change: it is re-read each time). */
  setActiveCell(notebookPath: string, cellId: string, cellIndex: number): void {
    this._accrue();
    this._active = { notebookPath, cellId, cellIndex };
  }

  /** The active cell's content changed: counted, never read. */
  edit(notebookPath: string, cellId: string, cellIndex: number): void {
    this.input();
    const cell = this._pending(notebookPath, cellId, cellIndex);
    cell.edits++;
    this._firstEdit ??= this.now();
  }

  /** Any input (key, pointer): ends idle. */
  input(): void {
    this._accrue();
    this._markInput();
    if (this._idle) {
      this._idle = false;
      this._send();
    }
  }

  /** What a run of this cell carries along: its counts since the last report. */
  takeCell(
    notebookPath: string,
    cellId: string
  ): { edits: number; activeMs: number } | null {
    this._accrue();
    const cells = this._cells.get(notebookPath);
    const cell = cells?.get(cellId);
    if (!cells || !cell) {
      return null;
    }
    cells.delete(cellId);
    if (
      ![...this._cells.values()].some(c => [...c.values()].some(p => p.edits))
    ) {
      this._firstEdit = null;
    }
    return { edits: cell.edits, activeMs: Math.round(cell.activeMs) };
  }

  /** Called every few seconds: idle detection and the throttled reports. */
  tick(): void {
    const now = this.now();
    if (!this._idle && now - this._lastInput >= this.options.idleMs) {
      this._accrue(this._lastInput + this.options.idleMs);
      this._idle = true;
      this._send();
      return;
    }
    this._accrue();
    const edits = this._firstEdit !== null;
    const away =
      this._hiddenAt !== null &&
      this._reported !== false &&
      now - this._hiddenAt >= this.options.glanceMs;
    if (away || (edits && now - this._firstEdit! >= this.options.throttleMs)) {
      this._send();
    } else if (
      !edits &&
      this._cells.size > 0 &&
      now - this._lastReport >= this.options.timeFlushMs
    ) {
      this._send();
    }
  }

  private _markInput(): void {
    this._lastInput = this.now();
  }

  private _pending(
    notebookPath: string,
    cellId: string,
    cellIndex: number
  ): IPending {
    let cells = this._cells.get(notebookPath);
    if (!cells) {
      cells = new Map();
      this._cells.set(notebookPath, cells);
    }
    let cell = cells.get(cellId);
    if (!cell) {
      cell = { cellIndex, edits: 0, activeMs: 0 };
      cells.set(cellId, cell);
    }
    cell.cellIndex = cellIndex;
    return cell;
  }

  /** Add the time since the last accrual to the active cell, when it counts. */
  private _accrue(until: number = this.now()): void {
    const elapsed = until - this._since;
    this._since = Math.max(this._since, until);
    if (elapsed <= 0 || !this._visible || this._idle || !this._active) {
      return;
    }
    const { notebookPath, cellId, cellIndex } = this._active;
    this._pending(notebookPath, cellId, cellIndex).activeMs += elapsed;
  }

  /** One event per notebook with pending counts (one, without cells, when none). */
  private _send(): void {
    const active = this._active;
    const base: Pick<
      IEngagementReport,
      'visible' | 'idle' | 'editingMs' | 'hiddenMs'
    > = {
      visible: this._visible,
      idle: this._idle
    };
    if (this._firstEdit !== null) {
      base.editingMs = Math.max(0, this.now() - this._firstEdit);
    }
    if (this._hiddenAt !== null) {
      base.hiddenMs = Math.max(0, this.now() - this._hiddenAt);
    }
    const paths = new Set(this._cells.keys());
    if (active) {
      paths.add(active.notebookPath);
    }
    if (paths.size === 0) {
      this.report({ ...base, cells: [] });
    }
    for (const path of paths) {
      const cells = [...(this._cells.get(path)?.entries() ?? [])]
        .filter(([, p]) => p.edits > 0 || p.activeMs >= 1)
        .map(([cellId, p]) => ({
          cellId,
          cellIndex: p.cellIndex,
          edits: p.edits,
          activeMs: Math.round(p.activeMs)
        }));
      if (active?.notebookPath === path) {
        const { cellId, cellIndex } = active;
        this.report({ ...base, notebookPath: path, cellId, cellIndex, cells });
      } else if (cells.length > 0) {
        this.report({ ...base, notebookPath: path, cells });
      }
    }
    this._cells.clear();
    this._firstEdit = null;
    this._lastReport = this.now();
    this._reported = this._visible;
  }

  private _visible = false;
  /** When the notebook was hidden, while it is. */
  private _hiddenAt: number | null = null;
  /** The visibility the server last heard of (null: none yet). */
  private _reported: boolean | null = null;
  private _idle = false;
  private _active: IActive | null = null;
  private _since: number;
  private _lastInput: number;
  private _lastReport: number;
  private _firstEdit: number | null = null;
  private readonly _cells = new Map<string, Map<string, IPending>>();
}

/** The fields without engagement signals (a run's edit count and active time). */
export function withoutEngagement(
  eventType: string,
  fields: Partial<IMonitorEvent>
): Partial<IMonitorEvent> {
  if (
    eventType !== 'cell_executed' ||
    !('edits' in fields || 'activeMs' in fields)
  ) {
    return fields;
  }
  const kept = { ...fields };
  delete kept.edits;
  delete kept.activeMs;
  return kept;
}
