/**
 * @jest-environment jsdom
 */
// Test results and engagement in the dashboard: tiles' "n/m passed", the
// heatmap's test cells and time row, the quiet list, the failing tests.

import { AttentionList } from '../attention';
import { studentSignals } from '../detailSignals';
import { failingTests } from '../failingTests';
import { matrix } from '../progress';
import { ClassTests, NotebookSignals, touchesTests } from '../signals';
import { ClassState, IStudent, needsAttention, quietText } from '../state';
import { TileView } from '../tiles';
import type {
  LiveEvent,
  ProgressOut,
  QuestionsOut,
  StudentQuestion,
  TimeOnTaskOut
} from '../wire.gen';

const NOW = Date.parse('2026-01-01T10:00:00+00:00');
const NB = 'lesson1.ipynb';

function student(key: string, fields: Partial<IStudent> = {}): IStudent {
  return {
    student: key,
    userName: key.toUpperCase(),
    teamName: 'A',
    status: 'active',
    lastActivity: '2026-01-01T09:59:00+00:00',
    lastNotebook: NB,
    lastCellIndex: 3,
    lastCellId: 'c3',
    events: 1,
    executions: 1,
    errors: 0,
    consecutiveErrors: 0,
    lastError: null,
    helpSince: null,
    helpClaimedBy: null,
    helpClaimedAt: null,
    visible: true,
    hiddenSince: null,
    editingSince: null,
    editingCellIndex: null,
    version: 1,
    ...fields
  };
}

function outcome(
  question: string,
  cell: number,
  passed: boolean
): StudentQuestion {
  return {
    notebook: NB,
    question,
    passed,
    attempts: 1,
    cellIndex: cell,
    points: null,
    lastAt: '2026-01-01T09:50:00+00:00',
    firstPassedAt: passed ? '2026-01-01T09:50:00+00:00' : null,
    errorName: passed ? null : 'AssertionError'
  };
}

function questions(ada: StudentQuestion[]): QuestionsOut {
  const stat = (question: string, cell: number, passed: number) => ({
    notebook: NB,
    question,
    kind: 'nbgrader' as const,
    cellIndex: cell,
    maxPoints: 1,
    attempted: 2,
    passed,
    failed: 2 - passed,
    everPassed: passed,
    passRate: passed / 2
  });
  return {
    notebook: NB,
    questions: [stat('q1', 1, 1), stat('q2', 2, 0)],
    students: [
      {
        student: 'ada',
        userName: 'Ada',
        teamName: 'A',
        passed: 1,
        questions: ada
      },
      {
        student: 'bob',
        userName: 'Bob',
        teamName: 'A',
        passed: 0,
        questions: [outcome('q1', 1, false)]
      }
    ]
  };
}

const progress: ProgressOut = {
  notebook: NB,
  cellCount: 4,
  cells: [0, 1, 2, 3].map(i => ({
    cellIndex: i,
    reached: 2,
    ok: 1,
    failed: 1
  })),
  students: [
    {
      student: 'ada',
      userName: 'Ada',
      teamName: 'A',
      cells: { 0: 'ok', 1: 'failed' }
    },
    {
      student: 'bob',
      userName: 'Bob',
      teamName: 'A',
      cells: { 0: 'ok', 1: 'failed' }
    }
  ]
};

const time: TimeOnTaskOut = {
  notebook: NB,
  cells: [
    {
      cellIndex: 0,
      students: 2,
      medianSeconds: 30,
      p90Seconds: 40,
      medianSecondsToPass: null,
      slow: false
    },
    {
      cellIndex: 1,
      students: 2,
      medianSeconds: 720,
      p90Seconds: 900,
      medianSecondsToPass: 600,
      slow: true
    }
  ],
  students: []
};

function cellOf(grid: HTMLElement, who: string, cell: number): HTMLElement {
  return grid.querySelectorAll<HTMLElement>(
    `[data-student="${who}"].hm-row .hm-cell`
  )[cell];
}

describe('the heatmap with test results', () => {
  it('flips a test cell from failed to passed when the latest outcome passes', () => {
    const failing = new NotebookSignals(
      questions([outcome('q1', 1, false)]),
      time
    );
    let grid = matrix(progress, 1200, () => undefined, 1, failing);
    expect(cellOf(grid, 'ada', 1).className).toContain('test-failed');
    expect(cellOf(grid, 'ada', 1).title).toBe('Ada, cell 1: failed q1');
    const passing = new NotebookSignals(
      questions([outcome('q1', 1, true)]),
      time
    );
    grid = matrix(progress, 1200, () => undefined, 1, passing);
    expect(cellOf(grid, 'ada', 1).className).toContain('passed');
    expect(cellOf(grid, 'ada', 1).textContent).toBe('✔');
    // A test cell never run is "not run", an ordinary cell keeps ran-OK.
    expect(cellOf(grid, 'ada', 2).title).toBe('Ada, cell 2: q2 not run');
    expect(cellOf(grid, 'ada', 0).className).toBe('hm-cell ok');
  });

  it('adds the pass counts and the median time per cell, marking where the class slows down', () => {
    const signals = new NotebookSignals(
      questions([outcome('q1', 1, true)]),
      time
    );
    const grid = matrix(progress, 1200, () => undefined, 1, signals);
    const passed = [...grid.querySelectorAll('.hm-tests .hm-pass')].map(
      c => c.textContent
    );
    expect(passed).toEqual(['', '1/2', '0/2', '']);
    const times = [...grid.querySelectorAll<HTMLElement>('.hm-times .hm-time')];
    expect(times.map(c => c.textContent)).toEqual(['<1', '12', '', '']);
    expect(times[1].classList.contains('hm-slow')).toBe(true);
    expect(times[1].title).toContain('the class slows down here');
    expect(
      grid.querySelector('.hm-head.hm-test')!.getAttribute('aria-label')
    ).toBe('cell 1, test q1');
  });

  it('adds no rows for a notebook without tests or time', () => {
    const grid = matrix(
      progress,
      1200,
      () => undefined,
      1,
      new NotebookSignals(null, null)
    );
    expect(grid.querySelector('.hm-tests')).toBeNull();
    expect(grid.querySelector('.hm-times')).toBeNull();
  });
});

describe('tiles', () => {
  it('show "n/m passed" of the student\'s notebook', () => {
    const tests = new ClassTests(questions([outcome('q1', 1, true)]));
    expect(tests.tileText(student('ada'))).toBe('1/2 passed');
    expect(tests.tileText(student('bob'))).toBe('0/2 passed');
    expect(
      tests.tileText(student('cid', { lastNotebook: 'other.ipynb' }))
    ).toBe('');
    const root = document.createElement('div');
    const view = new TileView(root, () => undefined);
    view.setTests(s => tests.tileText(s));
    view.render(
      [{ key: '', label: '', students: [student('ada')] }],
      'all',
      NOW
    );
    expect(root.querySelector('.tile-tests')!.textContent).toBe('1/2 passed');
    expect(root.querySelector<HTMLElement>('.tile')!.title).toContain(
      '1/2 passed'
    );
  });

  it('refetch on runs of test cells only', () => {
    const event = (fields: Partial<LiveEvent>) =>
      ({ testsPassed: null, testsFailed: null, ...fields }) as LiveEvent;
    expect(touchesTests([event({})])).toBe(false);
    expect(touchesTests([event({ testsPassed: 0, testsFailed: 1 })])).toBe(
      true
    );
  });
});

describe('quiet students', () => {
  const quiet = student('ada', {
    status: 'quiet',
    editingSince: '2026-01-01T09:48:00+00:00',
    editingCellIndex: 5
  });

  it('are listed with what they are doing, longest first', () => {
    expect(quietText(quiet, NOW)).toBe(
      'editing cell 5 for 12 min without running'
    );
    const failed = {
      ...quiet,
      lastError: { name: 'E', message: '', at: null, cellIndex: 5 }
    };
    expect(quietText(failed, NOW)).toBe(
      'editing cell 5 for 12 min without a passing run'
    );
    const state = new ClassState();
    const later = student('bob', {
      status: 'quiet',
      editingSince: '2026-01-01T09:49:00+00:00'
    });
    state.upsert(later);
    state.upsert(quiet);
    state.upsert(student('cid', { status: 'away' }));
    expect(needsAttention(state).quiet.map(s => s.student)).toEqual([
      'ada',
      'bob'
    ]);
  });

  it('open the student from the quiet list (nothing to change on the server)', () => {
    const list = document.createElement('ol');
    const opened: string[] = [];
    const acted: string[] = [];
    const view = new AttentionList(
      'quiet',
      list,
      document.createElement('p'),
      document.createElement('span'),
      {
        act: (_k, who) => acted.push(who),
        open: who => opened.push(who),
        claim: () => undefined,
        me: () => null
      },
      () => document.body
    );
    view.render([quiet], NOW);
    expect(list.querySelector('.attention-wait')!.textContent).toBe(
      'editing cell 5 for 12 min without running'
    );
    list.querySelector<HTMLButtonElement>('.attention-action')!.click();
    expect(opened).toEqual(['ada']);
    expect(acted).toEqual([]);
  });
});

describe('failing tests and the student dialog', () => {
  it('group failing tests by question with who fails them', () => {
    const opened: string[] = [];
    const items = failingTests(
      {
        notebook: null,
        items: [
          {
            notebook: NB,
            question: 'q2',
            cellIndex: 2,
            failing: 2,
            students: [
              {
                student: 'ada',
                userName: 'Ada',
                teamName: null,
                errorName: 'AssertionError',
                lastAt: '2026-01-01T09:50:00+00:00'
              },
              {
                student: 'bob',
                userName: null,
                teamName: 'A',
                errorName: null,
                lastAt: '2026-01-01T09:49:00+00:00'
              }
            ]
          }
        ]
      },
      who => opened.push(who),
      new Set(),
      true
    );
    expect(items[0].querySelector('summary')!.textContent).toBe(
      `2 students fail q2on cell 2 of ${NB}`
    );
    const buttons = items[0].querySelectorAll<HTMLButtonElement>('button');
    expect([...buttons].map(b => b.textContent)).toEqual([
      'Ada · AssertionError',
      'bob (A)'
    ]);
    buttons[1].click();
    expect(opened).toEqual(['bob']);
    expect(
      failingTests(
        { notebook: null, items: [] },
        () => undefined,
        new Set(),
        true
      )[0].textContent
    ).toBe('No test is failing.');
  });

  it("show a student's outcomes and time per cell", () => {
    const [section] = studentSignals({
      student: 'ada',
      notebooks: [
        {
          notebook: NB,
          activeSeconds: 750,
          questions: [outcome('q1', 1, true), outcome('q2', 2, false)],
          cells: [
            {
              cellIndex: 1,
              activeSeconds: 720,
              edits: 40,
              runs: 3,
              firstAt: null,
              firstPassedAt: null,
              secondsToPass: 600
            }
          ]
        }
      ]
    });
    expect(section.querySelector('h4')!.textContent).toBe(
      `${NB}: 12 min active · 1/2 passed`
    );
    expect(
      section.querySelector('[data-question="q2"]')!.textContent
    ).toContain('failing');
    const row = [...section.querySelectorAll('tbody td')].map(
      c => c.textContent
    );
    expect(row).toEqual(['1', '12 min', '40', '3', '10 min']);
  });
});
