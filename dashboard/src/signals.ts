// Test results and time on task as the views show them: pure lookups built
// from GET /api/v1/questions and /api/v1/time-on-task (no DOM here).

import type {
  ClassCellTime,
  LiveEvent,
  QuestionsOut,
  QuestionStat,
  StudentView,
  TimeOnTaskOut
} from './wire.gen.js';

/** A test cell's state for one student: all its questions passed, or not. */
export type TestState = 'passed' | 'test-failed';

/** Whether a feed's events may change test results (a test cell ran). */
export function touchesTests(events: readonly LiveEvent[]): boolean {
  return events.some(e => e.testsPassed !== null || e.testsFailed !== null);
}

/** "4/7 passed" for a student's current notebook ('' when it has no tests). */
export class ClassTests {
  private totals = new Map<string, number>();
  private passed = new Map<string, Map<string, number>>();
  private stats: QuestionStat[] = [];

  constructor(data: QuestionsOut | null = null) {
    if (data) {
      this.set(data);
    }
  }

  set(data: QuestionsOut): void {
    this.stats = data.questions;
    this.totals = new Map();
    for (const q of data.questions) {
      this.totals.set(q.notebook, (this.totals.get(q.notebook) ?? 0) + 1);
    }
    this.passed = new Map();
    for (const s of data.students) {
      const mine = new Map<string, number>();
      for (const q of s.questions) {
        mine.set(q.notebook, (mine.get(q.notebook) ?? 0) + Number(q.passed));
      }
      this.passed.set(s.student, mine);
    }
  }

  /** The questions of a notebook (every notebook's when null), in cell order. */
  questions(notebook: string | null): QuestionStat[] {
    return this.stats.filter(q => notebook === null || q.notebook === notebook);
  }

  tileText(student: StudentView): string {
    const notebook = student.lastNotebook;
    const total = notebook ? this.totals.get(notebook) : undefined;
    if (!notebook || !total) {
      return '';
    }
    const passed = this.passed.get(student.student)?.get(notebook) ?? 0;
    return `${passed}/${total} passed`;
  }
}

/** "q1 71 %" style summary of a question's pass rate. */
export function rateText(q: QuestionStat): string {
  const percent = Math.round(q.passRate * 100);
  return `${q.passed}/${q.attempted} passed (${percent} %)`;
}

/** "45 s", "12 min", "1 h 05 min": durations of time on task. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) {
    return '–';
  }
  const s = Math.round(seconds);
  if (s < 60) {
    return `${s} s`;
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return `${minutes} min`;
  }
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** What the heatmap adds to one notebook's cells: test states and time. */
export class NotebookSignals {
  private readonly states = new Map<string, Map<number, TestState>>();
  private readonly names = new Map<number, string[]>();
  private readonly rates = new Map<number, QuestionStat[]>();
  private readonly times = new Map<number, ClassCellTime>();

  constructor(questions: QuestionsOut | null, time: TimeOnTaskOut | null) {
    for (const q of questions?.questions ?? []) {
      if (q.cellIndex === null) {
        continue;
      }
      this.names.set(q.cellIndex, [
        ...(this.names.get(q.cellIndex) ?? []),
        q.question
      ]);
      this.rates.set(q.cellIndex, [...(this.rates.get(q.cellIndex) ?? []), q]);
    }
    for (const s of questions?.students ?? []) {
      const cells = new Map<number, TestState>();
      for (const q of s.questions) {
        if (q.cellIndex === null) {
          continue;
        }
        // A cell with several questions passes when every one passes.
        const failed = !q.passed || cells.get(q.cellIndex) === 'test-failed';
        cells.set(q.cellIndex, failed ? 'test-failed' : 'passed');
      }
      this.states.set(s.student, cells);
    }
    for (const cell of time?.cells ?? []) {
      this.times.set(cell.cellIndex, cell);
    }
  }

  /** The notebook has test cells (the heatmap adds a row of pass counts). */
  get hasTests(): boolean {
    return this.names.size > 0;
  }

  /** Time was recorded on the notebook (the heatmap adds a row of medians). */
  get hasTimes(): boolean {
    return this.times.size > 0;
  }

  isTestCell(cell: number): boolean {
    return this.names.has(cell);
  }

  questionsOf(cell: number): string[] {
    return this.names.get(cell) ?? [];
  }

  state(student: string, cell: number): TestState | null {
    return this.states.get(student)?.get(cell) ?? null;
  }

  /** Students passing / attempted, over the cell's questions. */
  passSummary(cell: number): { passed: number; attempted: number } | null {
    const stats = this.rates.get(cell);
    if (!stats) {
      return null;
    }
    return {
      passed: Math.min(...stats.map(s => s.passed)),
      attempted: Math.max(...stats.map(s => s.attempted))
    };
  }

  time(cell: number): ClassCellTime | null {
    return this.times.get(cell) ?? null;
  }
}
