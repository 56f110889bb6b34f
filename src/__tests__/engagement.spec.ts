import {
  EngagementTracker,
  IEngagementReport,
  withoutEngagement
} from '../engagement';

const OPTIONS = {
  throttleMs: 30000,
  idleMs: 300000,
  timeFlushMs: 300000,
  glanceMs: 60000
};

function setup() {
  let now = 1_000_000;
  const reports: IEngagementReport[] = [];
  const tracker = new EngagementTracker(
    r => reports.push(r),
    OPTIONS,
    () => now
  );
  const advance = (ms: number) => {
    // The capture ticks every 5 s.
    for (let t = 0; t < ms; t += 5000) {
      now += Math.min(5000, ms - t);
      tracker.tick();
    }
  };
  return { tracker, reports, advance };
}

describe('EngagementTracker', () => {
  it('reports the notebook shown at once, with the active cell', () => {
    const { tracker, reports } = setup();
    tracker.setActiveCell('nb.ipynb', 'c1', 0);
    tracker.setVisible(true);
    tracker.setVisible(true); // no change, no event
    expect(reports.map(r => r.visible)).toEqual([true]);
    expect(reports[0]).toMatchObject({
      notebookPath: 'nb.ipynb',
      cellId: 'c1',
      cellIndex: 0,
      idle: false
    });
  });

  it('does not report a glance away; looking away longer is reported with when it began', () => {
    const { tracker, reports, advance } = setup();
    tracker.setActiveCell('nb.ipynb', 'c1', 0);
    tracker.setVisible(true);
    reports.length = 0;
    tracker.setVisible(false);
    advance(OPTIONS.glanceMs - 5000);
    tracker.setVisible(true);
    advance(10000);
    expect(reports).toHaveLength(0); // a glance: nothing sent either way
    tracker.setVisible(false);
    advance(OPTIONS.glanceMs);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      visible: false,
      hiddenMs: OPTIONS.glanceMs
    });
    advance(120000);
    expect(reports).toHaveLength(1); // hidden is said once
    tracker.setVisible(true);
    expect(reports).toHaveLength(2);
    expect(reports[1].visible).toBe(true);
    expect(reports[1].hiddenMs).toBeUndefined();
  });

  it('reports the hidden notebook at once when the page goes away', () => {
    const { tracker, reports } = setup();
    tracker.setActiveCell('nb.ipynb', 'c1', 0);
    tracker.setVisible(true);
    tracker.setVisible(false, true);
    expect(reports.map(r => r.visible)).toEqual([true, false]);
    expect(reports[1].hiddenMs).toBe(0);
  });

  it('throttles edits to one event per 30 s with counts per cell, never content', () => {
    const { tracker, reports, advance } = setup();
    tracker.setActiveCell('nb.ipynb', 'c1', 2);
    tracker.setVisible(true);
    reports.length = 0;
    for (let i = 0; i < 50; i++) {
      tracker.edit('nb.ipynb', 'c1', 2);
      advance(1000);
    }
    tracker.setActiveCell('nb.ipynb', 'c2', 3);
    tracker.edit('nb.ipynb', 'c2', 3);
    advance(60000);
    // 110 s of typing in two cells: a report 30 s after the first edit, then
    // the rest once the next batch is 30 s old.
    expect(reports).toHaveLength(2);
    const [first, second] = reports;
    expect(first.cells).toEqual([
      { cellId: 'c1', cellIndex: 2, edits: 30, activeMs: 30000 }
    ]);
    expect(first.editingMs).toBe(30000); // the oldest edit, before the report
    expect(second.cells.map(c => [c.cellId, c.edits])).toEqual([
      ['c1', 20],
      ['c2', 1]
    ]);
    expect(JSON.stringify(reports)).not.toMatch(/source|text|key/);
  });

  it('lets a run take its own cell along: no event of its own', () => {
    const { tracker, reports, advance } = setup();
    tracker.setActiveCell('nb.ipynb', 'c1', 0);
    tracker.setVisible(true);
    reports.length = 0;
    tracker.edit('nb.ipynb', 'c1', 0);
    advance(10000);
    expect(tracker.takeCell('nb.ipynb', 'c1')).toEqual({
      edits: 1,
      activeMs: 10000
    });
    advance(60000);
    expect(reports.filter(r => r.cells.some(c => (c.edits ?? 0) > 0))).toEqual(
      []
    );
    expect(tracker.takeCell('nb.ipynb', 'other')).toBeNull();
  });

  it('counts active time only while visible and not idle', () => {
    const { tracker, reports, advance } = setup();
    tracker.setActiveCell('nb.ipynb', 'c1', 0);
    tracker.setVisible(true);
    advance(20000);
    tracker.setVisible(false);
    advance(100000); // reported after the glance, with the 20 s
    tracker.setVisible(true);
    advance(10000);
    expect(reports[1].cells).toEqual([
      { cellId: 'c1', cellIndex: 0, edits: 0, activeMs: 20000 }
    ]);
    expect(tracker.takeCell('nb.ipynb', 'c1')?.activeMs).toBe(10000);
  });

  it('turns idle after no input for idleMs, counts time until then, and back on input', () => {
    const { tracker, reports, advance } = setup();
    tracker.setActiveCell('nb.ipynb', 'c1', 0);
    tracker.setVisible(true);
    reports.length = 0;
    advance(OPTIONS.idleMs + 60000);
    expect(tracker.idle).toBe(true);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ idle: true });
    expect(reports[0].cells[0].activeMs).toBe(OPTIONS.idleMs);
    tracker.input();
    expect(reports).toHaveLength(2);
    expect(reports[1]).toMatchObject({ idle: false, cells: [] });
  });

  it('sends time alone (reading) after timeFlushMs, not before', () => {
    const { tracker, reports, advance } = setup();
    tracker.setActiveCell('nb.ipynb', 'c1', 0);
    tracker.setVisible(true);
    reports.length = 0;
    advance(60000);
    tracker.input();
    advance(60000);
    expect(reports).toHaveLength(0);
    for (let i = 0; i < 4; i++) {
      tracker.input();
      advance(60000);
    }
    expect(reports).toHaveLength(1);
    expect(reports[0].cells[0].activeMs).toBe(300000);
  });

  it('reports cells of another notebook in their own event', () => {
    const { tracker, reports } = setup();
    tracker.setActiveCell('a.ipynb', 'c1', 0);
    tracker.setVisible(true);
    tracker.edit('a.ipynb', 'c1', 0);
    tracker.setActiveCell('b.ipynb', 'd1', 4);
    tracker.setVisible(false, true);
    const last = reports.slice(-2);
    expect(last.map(r => r.notebookPath).sort()).toEqual([
      'a.ipynb',
      'b.ipynb'
    ]);
    const a = last.find(r => r.notebookPath === 'a.ipynb')!;
    expect(a.cellId).toBeUndefined();
    expect(a.cells[0]).toMatchObject({ cellId: 'c1', edits: 1 });
  });
});

describe('withoutEngagement (a course that turned engagement off)', () => {
  it('drops the edit count and active time a run carries, and nothing else', () => {
    const run = { cellIndex: 2, edits: 4, activeMs: 900, code: 'x = 1' };
    expect(withoutEngagement('cell_executed', run)).toEqual({
      cellIndex: 2,
      code: 'x = 1'
    });
    expect(run.edits).toBe(4); // the caller's object is left alone
    const help = { notebookPath: 'a.ipynb' };
    expect(withoutEngagement('help', help)).toBe(help);
  });
});
