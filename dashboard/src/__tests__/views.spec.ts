/**
 * @jest-environment jsdom
 */
// The views' render logic in a DOM: tiles, the needs-attention panel, the
// focus-keeping reorder, the heatmap and the activity axes.

import { AttentionList } from '../attention';
import { niceTicks, timeTicks } from '../activity';
import { sessionLabels } from '../detail';
import { reorder } from '../dom';
import { matrix } from '../progress';
import {
  arrange,
  ClassState,
  countByStatus,
  DEFAULT_VIEW,
  IStudent,
  needsAttention
} from '../state';
import { TileView } from '../tiles';

const NOW = Date.parse('2026-01-01T10:00:00+00:00');

function student(key: string, fields: Partial<IStudent> = {}): IStudent {
  return {
    student: key,
    userName: key.toUpperCase(),
    teamName: 'Team A',
    status: 'active',
    lastActivity: '2026-01-01T09:59:00+00:00',
    lastNotebook: 'course/week1/lesson1-pandas.ipynb',
    lastCellIndex: 12,
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

function classOf(...students: IStudent[]): ClassState {
  const state = new ClassState();
  state.apply({
    type: 'snapshot',
    serverTime: '2026-01-01T10:00:00+00:00',
    thresholds: { stuckAfterErrors: 3, activeWindowSeconds: 120 },
    students
  });
  return state;
}

/** The accessible name of a button named by its content (no aria-label). */
function visibleText(node: Element): string {
  return (node.textContent ?? '').replace(/\s+/g, ' ').trim();
}

describe('reorder', () => {
  function list(...ids: string[]): HTMLElement {
    const parent = document.createElement('ul');
    for (const id of ids) {
      const item = document.createElement('li');
      item.id = id;
      item.tabIndex = 0;
      parent.append(item);
    }
    document.body.replaceChildren(parent);
    return parent;
  }
  const ids = (parent: Element) => [...parent.children].map(c => c.id);

  it('puts the children in order', () => {
    const parent = list('a', 'b', 'c', 'd');
    const byId = (id: string) => parent.querySelector(`#${id}`)!;
    reorder(parent, ['d', 'b', 'a'].map(byId));
    expect(ids(parent)).toEqual(['d', 'b', 'a']);
  });

  it('moves only what is out of place', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `t${i}`);
    const parent = list(...keys);
    const byId = (id: string) => parent.querySelector(`#${id}`)!;
    const moved: string[] = [];
    new MutationObserver(records => {
      for (const r of records) {
        r.addedNodes.forEach(n => moved.push((n as Element).id));
      }
    }).observe(parent, { childList: true });
    // The first goes back to the middle (a dismissed help request re-sorts).
    const wanted = [...keys.slice(1, 120), 't0', ...keys.slice(120)];
    reorder(parent, wanted.map(byId));
    expect(ids(parent)).toEqual(wanted);
    await Promise.resolve();
    expect(moved).toEqual(['t0']);
  });

  it('adds, removes and shuffles', () => {
    const parent = list('a', 'b', 'c', 'd', 'e');
    const extra = document.createElement('li');
    extra.id = 'n';
    const byId = (id: string) => parent.querySelector(`#${id}`) ?? extra;
    reorder(parent, ['e', 'n', 'c', 'a'].map(byId));
    expect(ids(parent)).toEqual(['e', 'n', 'c', 'a']);
  });

  it('never moves the focused child: the others move around it', () => {
    const parent = list('a', 'b', 'c', 'd', 'e');
    const byId = (id: string) => parent.querySelector(`#${id}`)!;
    const focused = byId('d') as HTMLElement;
    focused.focus();
    const moved: string[] = [];
    new MutationObserver(records => {
      for (const r of records) {
        r.removedNodes.forEach(n => moved.push((n as Element).id));
      }
    }).observe(parent, { childList: true });
    reorder(parent, ['d', 'a', 'e', 'b', 'c'].map(byId));
    expect(ids(parent)).toEqual(['d', 'a', 'e', 'b', 'c']);
    expect(document.activeElement).toBe(focused);
    return Promise.resolve().then(() => expect(moved).not.toContain('d'));
  });
});

describe('TileView', () => {
  function render(
    view: TileView,
    state: ClassState,
    changed: Set<string> | 'all'
  ) {
    view.render(
      arrange(state.students.values(), DEFAULT_VIEW, s => state.flags(s)),
      changed,
      NOW
    );
  }

  it('names each tile by its visible text, with the cell never cut', () => {
    const root = document.createElement('div');
    document.body.replaceChildren(root);
    const state = classOf(
      student('ada', {
        status: 'help',
        helpSince: '2026-01-01T09:58:00+00:00'
      })
    );
    render(new TileView(root, () => undefined), state, 'all');
    const tile = root.querySelector('.tile')!;
    expect(tile.hasAttribute('aria-label')).toBe(false);
    // Every word shown is in the name (WCAG 2.5.3), the status in words too.
    expect(visibleText(tile)).toBe('⚑Help:ADATeam Alesson1-pandascell 121m');
    expect(tile.querySelector('.tile-cell')!.textContent).toBe('cell 12');
    expect(tile.querySelector('.tile-notebook')!.textContent).toBe(
      'lesson1-pandas'
    );
    expect(tile.getAttribute('title')).toContain(
      'course/week1/lesson1-pandas.ipynb, cell 12'
    );
  });

  it('updates a tile in place and keeps the focus on it when it re-sorts', () => {
    const root = document.createElement('div');
    document.body.replaceChildren(root);
    const state = classOf(student('ada'), student('bob'), student('cy'));
    const view = new TileView(root, () => undefined);
    render(view, state, 'all');
    const cy = root.querySelector<HTMLElement>('[data-student="cy"]')!;
    cy.focus();
    const changes = state.apply({
      type: 'student',
      student: student('cy', {
        status: 'help',
        helpSince: '2026-01-01T09:59:30+00:00',
        version: 2
      })
    });
    render(view, state, changes.students);
    const order = [...root.querySelectorAll<HTMLElement>('.tile')].map(
      t => t.dataset.student
    );
    expect(order).toEqual(['cy', 'ada', 'bob']);
    expect(root.querySelector('[data-student="cy"]')).toBe(cy);
    expect(document.activeElement).toBe(cy);
    expect(cy.dataset.status).toBe('help');
  });

  it('drops the tile of a removed student at once', () => {
    const root = document.createElement('div');
    document.body.replaceChildren(root);
    const state = classOf(
      student('ada'),
      student('bob', { consecutiveErrors: 4, status: 'stuck' })
    );
    const view = new TileView(root, () => undefined);
    render(view, state, 'all');
    const changes = state.apply({ type: 'student_removed', studentId: 'bob' });
    expect(changes.removed).toEqual(new Set(['bob']));
    render(view, state, changes.students);
    expect(
      [...root.querySelectorAll<HTMLElement>('.tile')].map(
        t => t.dataset.student
      )
    ).toEqual(['ada']);
    expect(needsAttention(state).stuck).toEqual([]);
  });

  it('shows names only in projector mode', () => {
    const root = document.createElement('div');
    document.body.replaceChildren(root);
    const state = classOf(student('zoe@example.org', { userName: null }));
    const view = new TileView(root, () => undefined);
    view.setProjector(true);
    render(view, state, 'all');
    expect(root.querySelector('.tile-name')!.textContent).toBe('zoe');
    const tile = root.querySelector('.tile')!;
    expect(tile.textContent).not.toContain('@');
    expect(tile.getAttribute('title')).not.toContain('@');
  });
});

describe('status counts', () => {
  it('agree with the needs-attention panel when a stuck student asks for help', () => {
    const state = classOf(
      student('ada', {
        status: 'help',
        helpSince: '2026-01-01T09:58:00+00:00',
        consecutiveErrors: 5
      }),
      student('bob', { status: 'stuck', consecutiveErrors: 3 }),
      student('cy')
    );
    const counts = countByStatus(state.students.values(), s => state.flags(s));
    const attention = needsAttention(state);
    expect(counts.stuck).toBe(attention.stuck.length);
    expect(counts.help).toBe(attention.help.length);
    const stuckOnly = arrange(
      state.students.values(),
      { ...DEFAULT_VIEW, statuses: new Set(['stuck']) },
      s => state.flags(s)
    );
    expect(stuckOnly[0].students.map(s => s.student).sort()).toEqual([
      'ada',
      'bob'
    ]);
  });
});

describe('AttentionList', () => {
  function setUp() {
    const list = document.createElement('ol');
    const empty = document.createElement('p');
    const count = document.createElement('span');
    document.body.replaceChildren(list, empty, count);
    const acted: string[] = [];
    const claimed: string[] = [];
    const view = new AttentionList(
      'help',
      list,
      empty,
      count,
      {
        act: (_kind, who) => acted.push(who),
        open: () => undefined,
        claim: (who, takeOver) =>
          claimed.push(`${who}${takeOver ? ' (take over)' : ''}`),
        me: () => 'lin (TA)'
      },
      () => document.body
    );
    return { list, empty, count, view, acted, claimed };
  }

  it('shows the place in line and who is on the way, with the claim button', () => {
    const { list, view, claimed } = setUp();
    const since = '2026-01-01T09:55:00+00:00';
    const mine = student('ada', {
      helpSince: since,
      helpClaimedBy: 'lin (TA)'
    });
    const other = student('bob', {
      helpSince: since,
      helpClaimedBy: 'kim (TA)'
    });
    const waiting = student('cy', { helpSince: since });
    view.places = new Map([['cy', 1]]);
    view.render([mine, other, waiting], NOW);
    const items = [...list.querySelectorAll<HTMLElement>('.attention-item')];
    const text = (i: number, selector: string) =>
      items[i].querySelector<HTMLElement>(selector)!;
    expect(text(0, '.attention-claimed').textContent).toBe(
      'lin (TA) on the way'
    );
    expect(text(0, '.attention-claim').hidden).toBe(true);
    expect(text(1, '.attention-claim').textContent).toBe('Take over');
    expect(text(2, '.attention-claimed').textContent).toBe('#1 in line');
    expect(text(2, '.attention-claim').getAttribute('aria-label')).toBe(
      'On my way: CY'
    );
    text(2, '.attention-claim').click();
    text(1, '.attention-claim').click();
    expect(claimed).toEqual(['cy', 'bob (take over)']);
  });

  it('updates an item in place: its focused button keeps the focus', () => {
    const { list, count, view, acted } = setUp();
    const ada = student('ada', { helpSince: '2026-01-01T09:55:00+00:00' });
    const bob = student('bob', { helpSince: '2026-01-01T09:56:00+00:00' });
    view.render([ada, bob], NOW);
    const button = list.querySelector<HTMLButtonElement>(
      '[data-student="bob"] .attention-action'
    )!;
    button.focus();
    for (let version = 2; version < 6; version++) {
      view.render(
        [ada, { ...bob, version, lastCellIndex: version, userName: 'Bob B' }],
        NOW
      );
    }
    expect(list.querySelector('[data-student="bob"] .attention-action')).toBe(
      button
    );
    expect(document.activeElement).toBe(button);
    expect(button.getAttribute('aria-label')).toBe('Dismiss: Bob B');
    expect(list.querySelector('[data-student="bob"]')!.textContent).toContain(
      'cell 5'
    );
    expect(count.textContent).toBe('2');
    expect(
      list.querySelector('[data-student="ada"] .attention-wait')!.textContent
    ).toBe('waiting 5 min 00 s');
    button.click();
    expect(acted).toEqual(['bob']);
  });

  it('moves the focus to the next item when the focused one goes', () => {
    const { list, view } = setUp();
    const who = ['ada', 'bob', 'cy'].map(key =>
      student(key, { helpSince: '2026-01-01T09:55:00+00:00' })
    );
    view.render(who, NOW);
    list
      .querySelector<HTMLElement>('[data-student="bob"] .attention-action')!
      .focus();
    view.render([who[0], who[2]], NOW);
    expect(document.activeElement).toBe(
      list.querySelector('[data-student="cy"] .attention-action')
    );
  });

  it('shows its empty state when nobody waits', () => {
    const { list, empty, view } = setUp();
    view.render([], NOW);
    expect(empty.hidden).toBe(false);
    expect(list.children).toHaveLength(0);
  });
});

describe('heatmap', () => {
  const progress = {
    notebook: 'lesson1.ipynb',
    cellCount: 40,
    cells: Array.from({ length: 40 }, (_, i) => ({
      cellIndex: i,
      reached: 200 - i,
      ok: 190 - i,
      failed: 10
    })),
    students: Array.from({ length: 3 }, (_, i) => ({
      student: `s${i}`,
      userName: `Student ${i}`,
      teamName: 'Team A',
      cells: { '0': 'ok' as const, '1': 'failed' as const }
    }))
  };

  it('keeps each "students reached" count in its own cell, filled by its share', () => {
    const grid = matrix(progress, 1500, () => undefined);
    const counts = [...grid.querySelectorAll<HTMLElement>('.hm-count')];
    expect(counts.map(c => c.textContent)).toEqual(
      progress.cells.map(c => String(c.reached))
    );
    expect(counts[0].style.getPropertyValue('--fill')).toBe(String(200 / 3));
    expect(grid.querySelector('.hm-reached-label')!.textContent).toBe(
      'Students reached (of 3)'
    );
  });

  it('writes headers vertically when 40 columns get narrow', () => {
    expect(
      matrix(progress, 1500, () => undefined).classList.contains('hm-narrow')
    ).toBe(false);
    expect(
      matrix(progress, 1000, () => undefined).classList.contains('hm-narrow')
    ).toBe(true);
  });

  it('zooms: larger cells that scroll, headers upright again', () => {
    const zoomed = matrix(progress, 1000, () => undefined, 2);
    expect(zoomed.style.getPropertyValue('--hm-zoom')).toBe('2');
    expect(zoomed.style.gridTemplateColumns).toContain('minmax(2.5rem, 1fr)');
    expect(zoomed.classList.contains('hm-narrow')).toBe(false);
    const fit = matrix(progress, 1000, () => undefined);
    expect(fit.style.gridTemplateColumns).toContain('minmax(1.25rem, 1fr)');
  });

  it('marks cells by a sign as well as a colour', () => {
    const grid = matrix(progress, 1500, () => undefined);
    const row = [...grid.querySelectorAll('[data-student="s0"] .hm-cell')];
    expect(row.slice(0, 3).map(c => [c.className, c.textContent])).toEqual([
      ['hm-cell ok', '✓'],
      ['hm-cell failed', '✕'],
      ['hm-cell none', '']
    ]);
  });
});

describe('activity axes', () => {
  it('has distinct round y ticks up to the peak', () => {
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(1)).toEqual([0, 1]);
    expect(niceTicks(3)).toEqual([0, 1, 2, 3]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(37)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(1234)).toEqual([0, 500, 1000, 1500]);
    for (let peak = 0; peak < 500; peak++) {
      const ticks = niceTicks(peak);
      expect(new Set(ticks).size).toBe(ticks.length);
      expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(peak);
      expect(ticks.length).toBeLessThanOrEqual(6);
    }
  });

  it('labels round clock times, in local time', () => {
    const end = Math.floor(Date.parse('2026-01-01T10:07:00Z') / 60_000);
    const start = end - 59;
    // UTC+1 (offset -60): labels at 10:10, 10:20, ... local = 09:10 UTC ...
    const ticks = timeTicks(start, end, 1, -60);
    expect(
      ticks.map(m => new Date(m * 60_000).toISOString().slice(11, 16))
    ).toEqual(['09:10', '09:20', '09:30', '09:40', '09:50', '10:00']);
  });
});

describe('sessionLabels', () => {
  it('numbers sessions by start, with times and length, the id aside', () => {
    const labels = sessionLabels([
      {
        sessionId: 'b7f3-uuid',
        firstSeen: '2026-01-01T11:00:00Z',
        lastSeen: '2026-01-01T11:30:00Z'
      },
      {
        sessionId: 'a1c2-uuid',
        firstSeen: '2026-01-01T09:00:00Z',
        lastSeen: '2026-01-01T09:45:00Z'
      }
    ]);
    expect(labels.map(l => l.id)).toEqual(['a1c2-uuid', 'b7f3-uuid']);
    expect(labels[0].label).toMatch(/^Session 1 · .+ – .+ \(45 min\)$/);
    expect(labels[1].label).toMatch(/^Session 2 · .+ \(30 min\)$/);
    expect(labels[0].label).not.toContain('uuid');
  });
});
