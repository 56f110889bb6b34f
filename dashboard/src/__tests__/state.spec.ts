import {
  arrange,
  ClassState,
  countByStatus,
  DEFAULT_VIEW,
  distinct,
  formatAgo,
  formatWaiting,
  needsAttention
} from '../state';
import type { Alert, LiveFrame, StudentView } from '../wire.gen';

function student(key: string, fields: Partial<StudentView> = {}): StudentView {
  return {
    student: key,
    userName: key.toUpperCase(),
    teamName: 'A',
    status: 'active',
    lastActivity: '2026-01-01T10:00:00+00:00',
    lastNotebook: 'one.ipynb',
    lastCellIndex: 1,
    lastCellId: 'c1',
    events: 1,
    executions: 1,
    errors: 0,
    consecutiveErrors: 0,
    lastError: null,
    helpSince: null,
    helpClaimedBy: null,
    helpClaimedAt: null,
    version: 1,
    ...fields
  };
}

function snapshot(...students: StudentView[]): LiveFrame {
  return {
    type: 'snapshot',
    serverTime: '2026-01-01T10:00:00+00:00',
    thresholds: { stuckAfterErrors: 3, activeWindowSeconds: 120 },
    students
  };
}

function helpAlert(key: string): Alert {
  return {
    kind: 'help',
    action: 'raised',
    student: key,
    userName: null,
    teamName: null,
    notebook: null,
    since: '2026-01-01T10:00:00+00:00',
    errorName: null,
    errorMessage: null,
    consecutiveErrors: 0,
    at: '2026-01-01T10:00:00+00:00',
    by: 'student'
  };
}

describe('ClassState.apply', () => {
  it('replaces everything on a snapshot and reports a reset', () => {
    const state = new ClassState();
    state.apply(snapshot(student('a'), student('b')));
    const changes = state.apply(snapshot(student('c')));
    expect(changes.reset).toBe(true);
    expect([...state.students.keys()]).toEqual(['c']);
  });

  it('applies student messages of a batch and reports only those', () => {
    const state = new ClassState();
    state.apply(snapshot(student('a'), student('b')));
    const changes = state.apply({
      type: 'batch',
      messages: [
        {
          type: 'student',
          student: student('a', { status: 'help', version: 2 })
        },
        { type: 'student', student: student('new', { version: 1 }) }
      ]
    });
    expect(changes.reset).toBe(false);
    expect([...changes.students].sort()).toEqual(['a', 'new']);
    expect(state.students.get('a')?.status).toBe('help');
    expect(state.students.size).toBe(3);
  });

  it('ignores a state older than the one it holds', () => {
    const state = new ClassState();
    state.apply(snapshot(student('a', { version: 5, status: 'error' })));
    const changes = state.apply({
      type: 'student',
      student: student('a', { version: 4, status: 'active' })
    });
    expect(changes.students.size).toBe(0);
    expect(state.students.get('a')?.status).toBe('error');
  });

  it('takes a same-version state (an idle sweep ages the status)', () => {
    const state = new ClassState();
    state.apply(snapshot(student('a', { version: 5 })));
    state.apply({
      type: 'student',
      student: student('a', { version: 5, status: 'idle' })
    });
    expect(state.students.get('a')?.status).toBe('idle');
  });

  it('collects events and alerts, and follows the server clock', () => {
    const state = new ClassState();
    const now = Date.parse('2026-01-01T10:00:05Z');
    const changes = state.apply(
      {
        type: 'batch',
        messages: [
          { type: 'heartbeat', serverTime: '2026-01-01T10:00:00Z' },
          {
            type: 'alert',
            alert: {
              kind: 'help',
              action: 'raised',
              student: 'a',
              userName: null,
              teamName: null,
              notebook: null,
              since: null,
              errorName: null,
              errorMessage: null,
              consecutiveErrors: 0,
              at: '2026-01-01T10:00:00Z',
              by: 'student'
            }
          }
        ]
      },
      now
    );
    expect(changes.alerts).toHaveLength(1);
    expect(state.clockOffsetMs).toBe(-5000);
    expect(state.serverNow(now)).toBe(Date.parse('2026-01-01T10:00:00Z'));
  });
});

describe('ClassState.apply student_removed', () => {
  it('drops the erased student and reports them changed', () => {
    const state = new ClassState();
    state.apply(
      snapshot(
        student('a'),
        student('b', { status: 'help', helpSince: '2026-01-01T10:00:00Z' })
      )
    );
    expect(needsAttention(state).help.map(s => s.student)).toEqual(['b']);
    const changes = state.apply({ type: 'student_removed', studentId: 'b' });
    expect(needsAttention(state).help).toEqual([]);
    expect([...state.students.keys()]).toEqual(['a']);
    expect([...changes.students]).toEqual(['b']);
    expect(changes.reset).toBe(false);
  });

  it('drops the alerts of the erased student from the same frame', () => {
    const state = new ClassState();
    state.apply(snapshot(student('a'), student('b')));
    const changes = state.apply({
      type: 'batch',
      messages: [
        { type: 'alert', alert: helpAlert('a') },
        { type: 'alert', alert: helpAlert('b') },
        { type: 'student_removed', studentId: 'b' }
      ]
    });
    expect(changes.alerts.map(alert => alert.student)).toEqual(['a']);
    expect(needsAttention(state).help.map(s => s.student)).toEqual([]);
    expect(state.students.has('b')).toBe(false);
  });

  it('ignores a student it does not know', () => {
    const state = new ClassState();
    state.apply(snapshot(student('a')));
    const changes = state.apply({ type: 'student_removed', studentId: 'x' });
    expect(changes.students.size).toBe(0);
    expect(state.students.size).toBe(1);
  });
});

describe('arrange', () => {
  const students = [
    student('idle', { status: 'idle', userName: 'Bea', teamName: 'B' }),
    student('late-help', {
      status: 'help',
      userName: 'Zoe',
      helpSince: '2026-01-01T10:05:00Z'
    }),
    student('early-help', {
      status: 'help',
      userName: 'Yan',
      helpSince: '2026-01-01T10:01:00Z',
      teamName: 'B'
    }),
    student('stuck', { status: 'stuck', userName: 'Al', consecutiveErrors: 4 }),
    student('active', { status: 'active', userName: 'Cy', teamName: null })
  ];

  it('sorts by priority: help (longest waiting first), stuck, error, active, idle', () => {
    const [group] = arrange(students, DEFAULT_VIEW);
    expect(group.students.map(s => s.student)).toEqual([
      'early-help',
      'late-help',
      'stuck',
      'active',
      'idle'
    ]);
  });

  it('sorts by name', () => {
    const [group] = arrange(students, { ...DEFAULT_VIEW, sort: 'name' });
    expect(group.students.map(s => s.userName)).toEqual([
      'Al',
      'Bea',
      'Cy',
      'Yan',
      'Zoe'
    ]);
  });

  it('groups by team, the team-less last', () => {
    const groups = arrange(students, { ...DEFAULT_VIEW, group: 'team' });
    expect(groups.map(g => [g.label, g.students.length])).toEqual([
      ['A', 2],
      ['B', 2],
      ['No team', 1]
    ]);
  });

  it('filters by text, team, notebook and status', () => {
    const names = (view: Partial<typeof DEFAULT_VIEW>) =>
      arrange(students, { ...DEFAULT_VIEW, ...view }).flatMap(g =>
        g.students.map(s => s.student)
      );
    expect(names({ text: 'zo' })).toEqual(['late-help']);
    expect(names({ team: 'B' })).toEqual(['early-help', 'idle']);
    expect(names({ notebook: 'other.ipynb' })).toEqual([]);
    expect(names({ statuses: new Set(['stuck', 'idle'] as const) })).toEqual([
      'stuck',
      'idle'
    ]);
  });
});

describe('needsAttention', () => {
  it('lists help requests oldest first and stuck students by streak', () => {
    const state = new ClassState();
    state.apply(
      snapshot(
        student('h2', { status: 'help', helpSince: '2026-01-01T10:05:00Z' }),
        student('h1', { status: 'help', helpSince: '2026-01-01T10:01:00Z' }),
        student('s3', { status: 'stuck', consecutiveErrors: 3 }),
        student('s5', { status: 'stuck', consecutiveErrors: 5 }),
        student('e', { status: 'error', consecutiveErrors: 2 })
      )
    );
    const attention = needsAttention(state);
    expect(attention.help.map(s => s.student)).toEqual(['h1', 'h2']);
    expect(attention.stuck.map(s => s.student)).toEqual(['s5', 's3']);
  });
});

describe('helpers', () => {
  it('counts statuses and lists distinct teams', () => {
    const all = [student('a'), student('b', { status: 'help', teamName: 'B' })];
    expect(countByStatus(all)).toEqual({
      help: 1,
      stuck: 0,
      error: 0,
      active: 1,
      idle: 0
    });
    expect(distinct(all, 'teamName')).toEqual(['A', 'B']);
  });

  it('formats times since', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(formatAgo(null, now)).toBe('–');
    expect(formatAgo('2026-01-01T11:59:58Z', now)).toBe('now');
    expect(formatAgo('2026-01-01T11:59:15Z', now)).toBe('45s');
    expect(formatAgo('2026-01-01T11:48:00Z', now)).toBe('12m');
    expect(formatAgo('2026-01-01T09:00:00Z', now)).toBe('3h');
    expect(formatWaiting('2026-01-01T11:55:55Z', now)).toBe('4 min 05 s');
    expect(formatWaiting('2026-01-01T10:30:00Z', now)).toBe('1 h 30 min');
  });
});
