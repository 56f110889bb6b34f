// Class replay, pure: the server sends every change of a window in time order
// (GET /api/v1/replay); the state at any moment is looked up here, so scrubbing and
// playing cost no request.

import type {
  ReplayFrame,
  ReplayOut,
  ReplayStudent,
  Status
} from './wire.gen.js';

export interface IStudentAt {
  student: ReplayStudent;
  status: Status;
  frame: ReplayFrame | null;
}

interface ITimed {
  time: number;
}

/** The last item at or before `time` in a time-ordered list, or null. */
export function lastAtOrBefore<T extends ITimed>(
  items: readonly T[],
  time: number
): T | null {
  let low = 0;
  let high = items.length - 1;
  let found: T | null = null;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (items[middle].time <= time) {
      found = items[middle];
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

const PRIORITY: Record<Status, number> = {
  help: 0,
  stuck: 1,
  quiet: 2,
  error: 3,
  away: 4,
  active: 5,
  idle: 6
};

export class ReplayModel {
  readonly start: number;
  readonly end: number;
  private readonly frames = new Map<
    string,
    (ITimed & { frame: ReplayFrame })[]
  >();
  private readonly cellRuns = new Map<
    string,
    (ITimed & { state: 'ok' | 'failed' })[]
  >();
  readonly cellCount: number;

  constructor(readonly replay: ReplayOut) {
    this.start = Date.parse(replay.start);
    this.end = Date.parse(replay.end);
    for (const frame of replay.frames) {
      const list = this.frames.get(frame.student) ?? [];
      list.push({ time: Date.parse(frame.at), frame });
      this.frames.set(frame.student, list);
    }
    let highest = -1;
    for (const cell of replay.cells) {
      const key = cellKey(cell.student, cell.cellIndex);
      const list = this.cellRuns.get(key) ?? [];
      list.push({ time: Date.parse(cell.at), state: cell.state });
      this.cellRuns.set(key, list);
      highest = Math.max(highest, cell.cellIndex);
    }
    this.cellCount = highest + 1;
  }

  /** Every student at `time`, those who need attention first. */
  studentsAt(time: number): IStudentAt[] {
    const out: IStudentAt[] = [];
    for (const student of this.replay.students) {
      const hit = lastAtOrBefore(this.frames.get(student.student) ?? [], time);
      if (hit === null) {
        continue; // not seen yet at this moment
      }
      out.push({
        student,
        status: statusAt(hit.frame, time),
        frame: hit.frame
      });
    }
    return out.sort(
      (a, b) =>
        PRIORITY[a.status] - PRIORITY[b.status] ||
        name(a.student).localeCompare(name(b.student))
    );
  }

  /** A student's cell at `time`: its latest run's outcome, or null when not run yet. */
  cellAt(
    student: string,
    cellIndex: number,
    time: number
  ): 'ok' | 'failed' | null {
    const hit = lastAtOrBefore(
      this.cellRuns.get(cellKey(student, cellIndex)) ?? [],
      time
    );
    return hit ? hit.state : null;
  }
}

/** A frame's status at `time`: an active student turns idle at `idleAt`. */
export function statusAt(frame: ReplayFrame, time: number): Status {
  if (
    frame.status === 'active' &&
    frame.idleAt !== null &&
    Date.parse(frame.idleAt) <= time
  ) {
    return 'idle';
  }
  return frame.status;
}

export function name(student: ReplayStudent): string {
  return student.userName || student.student;
}

function cellKey(student: string, cellIndex: number): string {
  return `${student}\u0000${cellIndex}`;
}
