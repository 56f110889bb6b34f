// The Code view's logic: a cell or a test question, the summary, outcomes,
// members' notes and the audience of a cluster's message.

import {
  clusterAudience,
  clusterParams,
  clusterSummary,
  memberNote,
  outcomeText,
  subjectOf
} from '../clusterQuery';
import type { AttemptCluster, ClusterMember, ClustersOut } from '../wire.gen';

const failed: AttemptCluster = {
  fingerprint: 'abc',
  method: 'ast',
  size: 2,
  outcome: 'test failed: AssertionError',
  passing: false,
  outcomes: { 'test failed: AssertionError': 2 },
  representative: 'def f(x):\n    return x + 1',
  normalized: 'def f(v0):\n    return v0 + 1',
  members: []
};

function member(fields: Partial<ClusterMember>): ClusterMember {
  return {
    student: 'ada@example.org',
    userName: 'Ada',
    teamName: null,
    cellIndex: 2,
    eventTime: '2026-01-01T10:00:00Z',
    outcome: 'test passed',
    code: 'x = 1',
    ...fields
  };
}

describe('subjectOf', () => {
  it('takes the question over the cell number, and needs one of them', () => {
    expect(subjectOf('n.ipynb', '3', 'q1')).toEqual({
      notebook: 'n.ipynb',
      question: 'q1'
    });
    expect(subjectOf('n.ipynb', '3', '')).toEqual({
      notebook: 'n.ipynb',
      cell: 3
    });
    expect(subjectOf('n.ipynb', '', '')).toHaveProperty('problem');
    expect(subjectOf('', '3', 'q1')).toHaveProperty('problem');
  });

  it('asks the API for one of cell and question, never both', () => {
    expect(clusterParams({ notebook: 'n', question: 'q1' })).toEqual({
      notebook: 'n',
      question: 'q1'
    });
    expect(clusterParams({ notebook: 'n', cell: 0 })).toEqual({
      notebook: 'n',
      cell: 0
    });
  });
});

describe('cluster texts', () => {
  const byQuestion: ClustersOut = {
    notebook: 'n',
    cellIndex: 2,
    question: 'q1',
    attempts: 3,
    clusters: [failed]
  };

  it('sums up a question or a cell', () => {
    expect(clusterSummary(byQuestion)).toBe(
      '3 students tested q1 · 1 different answers (cell 2)'
    );
    expect(clusterSummary({ ...byQuestion, attempts: 0, clusters: [] })).toBe(
      'Nobody has run the test of q1 in n yet.'
    );
    expect(
      clusterSummary({ ...byQuestion, question: null, cellIndex: 4 })
    ).toBe('3 students · 1 different attempts at cell 4');
  });

  it('marks the outcome a success or a failure by the server verdict', () => {
    expect(outcomeText(failed)).toBe('✕ test failed: AssertionError');
    expect(
      outcomeText({ ...failed, outcome: 'test passed', passing: true })
    ).toBe('✓ test passed');
    expect(outcomeText({ ...failed, outcome: 'ok', passing: true })).toBe(
      '✓ ok'
    );
  });

  it('names an answer from another cell and a student with no answer', () => {
    const time = (v: string | null) => (v ? 'at 10:00' : '');
    expect(memberNote(member({}), byQuestion, time)).toBe(
      ' test passed · at 10:00'
    );
    expect(memberNote(member({ cellIndex: 5 }), byQuestion, time)).toBe(
      ' test passed · at 10:00 · cell 5'
    );
    expect(
      memberNote(
        member({ cellIndex: null, eventTime: null, code: null }),
        byQuestion,
        time
      )
    ).toBe(' test passed · no answer run before the test');
  });
});

describe('clusterAudience', () => {
  it('sends to a question cluster by its question, a cell cluster by its cell', () => {
    expect(clusterAudience({ notebook: 'n', question: 'q1' }, failed)).toEqual({
      audience: {
        kind: 'cluster',
        notebook: 'n',
        question: 'q1',
        fingerprint: 'abc'
      },
      label: 'the 2 students of this answer to q1 (test failed: AssertionError)'
    });
    const byCell = clusterAudience({ notebook: 'n', cell: 3 }, failed);
    expect(byCell.audience).toEqual({
      kind: 'cluster',
      notebook: 'n',
      cellIndex: 3,
      fingerprint: 'abc'
    });
    expect(byCell.audience).not.toHaveProperty('question');
  });
});
