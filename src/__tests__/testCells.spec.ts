import {
  nbgraderOutcome,
  otterOutcomes,
  taggedOutcome,
  testOutcomes
} from '../testCells';
import { IOutputLike } from '../outputs';

// What otter-grader 7 displays (text/plain of the check's result), copied from a run.
const OTTER_FAIL = [
  'q1 results:',
  '    q1 - 1 result:',
  '        ❌ Test case failed',
  '        Trying:',
  '            x == 2',
  '        Expecting:',
  '            True'
].join('\n');
const OTTER_PASS = 'q1 results: All test cases passed!';

function displayed(text: string): IOutputLike {
  return {
    output_type: 'execute_result',
    data: { 'text/plain': text, 'text/html': '<p>…</p>' }
  };
}

const grade = (extra: Record<string, unknown> = {}) => ({
  nbgrader: {
    grade: true,
    solution: false,
    grade_id: 'test_q1',
    points: 2,
    locked: true,
    ...extra
  }
});

describe('nbgrader test cells', () => {
  it('report their grade_id, pass when the run succeeds and earn the points then', () => {
    expect(nbgraderOutcome(grade(), true)).toEqual({
      question: 'test_q1',
      passed: true,
      kind: 'nbgrader',
      points: 2,
      maxPoints: 2
    });
    expect(nbgraderOutcome(grade(), false)).toMatchObject({
      passed: false,
      points: 0,
      maxPoints: 2
    });
  });

  it('ignore solution cells, ungraded cells and cells without a grade_id', () => {
    expect(nbgraderOutcome(grade({ solution: true }), true)).toBeNull();
    expect(nbgraderOutcome(grade({ grade: false }), true)).toBeNull();
    expect(nbgraderOutcome(grade({ grade_id: '' }), true)).toBeNull();
    expect(nbgraderOutcome({}, true)).toBeNull();
    expect(nbgraderOutcome(null, true)).toBeNull();
  });

  it('leave points unknown when the metadata has none', () => {
    expect(nbgraderOutcome(grade({ points: 'x' }), true)).toMatchObject({
      points: null,
      maxPoints: null
    });
  });
});

describe('otter-grader checks', () => {
  it('read a failing and a passing grader.check', () => {
    expect(otterOutcomes([displayed(OTTER_FAIL)])).toEqual([
      { question: 'q1', passed: false, kind: 'otter' }
    ]);
    expect(otterOutcomes([displayed(OTTER_PASS)])).toEqual([
      { question: 'q1', passed: true, kind: 'otter' }
    ]);
  });

  it('read every question of check_all, and the older "q2 passed!" form', () => {
    const all = `${OTTER_FAIL}\n\nq2 results: All test cases passed!\n\nq3 passed! 🎉`;
    expect(otterOutcomes([displayed(all)])).toEqual([
      { question: 'q1', passed: false, kind: 'otter' },
      { question: 'q2', passed: true, kind: 'otter' },
      { question: 'q3', passed: true, kind: 'otter' }
    ]);
  });

  it('do not take indented lines or ordinary output for results', () => {
    const text =
      '    q9 results: All test cases passed!\nresults: 3\nthe results: fine';
    expect(otterOutcomes([displayed(text)])).toEqual([]);
    expect(
      otterOutcomes([
        { output_type: 'stream', name: 'stdout', text: ['hello\n'] }
      ])
    ).toEqual([]);
  });
});

describe('tagged test cells', () => {
  it('pass when the cell runs without error, named by test:NAME or position', () => {
    expect(taggedOutcome({ tags: ['test'] }, 'test', 4, true)).toEqual({
      question: 'cell 5',
      passed: true,
      kind: 'tag'
    });
    expect(
      taggedOutcome({ tags: ['test', 'test:q3'] }, 'test', 4, false)
    ).toEqual({ question: 'q3', passed: false, kind: 'tag' });
  });

  it('follow the configured tag and ignore others', () => {
    expect(taggedOutcome({ tags: ['check'] }, 'check', 0, true)?.question).toBe(
      'cell 1'
    );
    expect(taggedOutcome({ tags: ['test'] }, 'check', 0, true)).toBeNull();
    expect(taggedOutcome({ tags: ['test'] }, '', 0, true)).toBeNull();
    expect(taggedOutcome({}, 'test', 0, true)).toBeNull();
  });
});

describe('testOutcomes', () => {
  it('prefers nbgrader metadata, then otter output, then the tag', () => {
    const outputs = [displayed(OTTER_PASS)];
    expect(testOutcomes(grade(), outputs, true, 0)[0].kind).toBe('nbgrader');
    expect(testOutcomes({ tags: ['test'] }, outputs, true, 0)[0].kind).toBe(
      'otter'
    );
    expect(testOutcomes({ tags: ['test'] }, [], false, 0)).toEqual([
      { question: 'cell 1', passed: false, kind: 'tag' }
    ]);
    expect(testOutcomes({}, [], true, 0)).toEqual([]);
  });
});
