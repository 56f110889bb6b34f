import { lineDiff, unifiedLines } from '../linediff';
import { lastAtOrBefore, ReplayModel, statusAt } from '../replayModel';
import type { ReplayOut } from '../wire.gen';

describe('lineDiff', () => {
  it('keeps common lines and marks what changed', () => {
    expect(lineDiff('x = 1\nprint(y)', 'x = 1\nprint(x)')).toEqual([
      { op: 'same', text: 'x = 1' },
      { op: 'removed', text: 'print(y)' },
      { op: 'added', text: 'print(x)' }
    ]);
  });

  it('handles insertions at the ends and identical input', () => {
    expect(lineDiff('a', 'z\na\nb').map(l => l.op)).toEqual([
      'added',
      'same',
      'added'
    ]);
    expect(lineDiff('same', 'same')).toEqual([{ op: 'same', text: 'same' }]);
  });

  it('reads the server unified diff without its file headers', () => {
    const lines = unifiedLines([
      '--- previous run',
      '+++ this run',
      '@@ -1,2 +1,2 @@',
      ' x = 1',
      '-print(y)',
      '+print(x)'
    ]);
    expect(lines.map(l => l.op)).toEqual(['same', 'same', 'removed', 'added']);
    expect(lines[3].text).toBe('print(x)');
  });
});

const replay: ReplayOut = {
  start: '2026-01-01T10:00:00Z',
  end: '2026-01-01T12:00:00Z',
  notebook: 'lesson1.ipynb',
  truncated: false,
  students: [
    { student: 'ada', userName: 'Ada', teamName: 'A' },
    { student: 'bob', userName: null, teamName: null }
  ],
  frames: [
    frame('ada', '10:00', 'active', '10:02'),
    frame('bob', '10:05', 'help', null),
    frame('ada', '10:10', 'error', null),
    frame('ada', '10:20', 'stuck', null),
    frame('bob', '10:30', 'active', '10:32')
  ],
  cells: [
    {
      at: '2026-01-01T10:10:00Z',
      student: 'ada',
      notebook: 'n',
      cellIndex: 2,
      state: 'failed'
    },
    {
      at: '2026-01-01T10:40:00Z',
      student: 'ada',
      notebook: 'n',
      cellIndex: 2,
      state: 'ok'
    }
  ]
};

function frame(
  student: string,
  hhmm: string,
  status: 'active' | 'help' | 'error' | 'stuck',
  idle: string | null
) {
  return {
    at: `2026-01-01T${hhmm}:00Z`,
    student,
    status,
    idleAt: idle ? `2026-01-01T${idle}:00Z` : null,
    notebook: 'lesson1.ipynb',
    cellIndex: 2,
    errorName: status === 'error' ? 'NameError' : null,
    helpSince: status === 'help' ? `2026-01-01T${hhmm}:00Z` : null,
    consecutiveErrors: 0
  };
}

const at = (hhmm: string) => Date.parse(`2026-01-01T${hhmm}:00Z`);

describe('ReplayModel', () => {
  const model = new ReplayModel(replay);

  it('shows each student as they were, attention first', () => {
    expect(model.studentsAt(at('09:59'))).toEqual([]);
    expect(model.studentsAt(at('10:01')).map(s => s.status)).toEqual([
      'active'
    ]);
    const later = model.studentsAt(at('10:25'));
    expect(later.map(s => [s.student.student, s.status])).toEqual([
      ['bob', 'help'],
      ['ada', 'stuck']
    ]);
  });

  it('turns active students idle after their window', () => {
    expect(model.studentsAt(at('10:03'))[0].status).toBe('idle');
    expect(statusAt(replay.frames[4], at('10:31'))).toBe('active');
    expect(statusAt(replay.frames[4], at('10:33'))).toBe('idle');
  });

  it('gives each cell its latest outcome at the moment', () => {
    expect(model.cellAt('ada', 2, at('10:05'))).toBeNull();
    expect(model.cellAt('ada', 2, at('10:15'))).toBe('failed');
    expect(model.cellAt('ada', 2, at('11:00'))).toBe('ok');
    expect(model.cellCount).toBe(3);
  });

  it('finds the last item at or before a time by bisection', () => {
    const items = [1, 3, 5].map(time => ({ time }));
    expect(lastAtOrBefore(items, 0)).toBeNull();
    expect(lastAtOrBefore(items, 3)?.time).toBe(3);
    expect(lastAtOrBefore(items, 4)?.time).toBe(3);
    expect(lastAtOrBefore(items, 9)?.time).toBe(5);
  });
});
