import { figuresText, formatSeconds, positions } from '../helpDesk';
import type { HelpStats, StudentView } from '../wire.gen';

function student(key: string, claimedBy: string | null = null): StudentView {
  return {
    student: key,
    userName: null,
    teamName: null,
    status: 'help',
    lastActivity: null,
    lastNotebook: null,
    lastCellIndex: null,
    lastCellId: null,
    events: 1,
    executions: 0,
    errors: 0,
    consecutiveErrors: 0,
    lastError: null,
    helpSince: new Date(0).toISOString(),
    helpClaimedBy: claimedBy,
    helpClaimedAt: null,
    version: 1
  };
}

describe('help desk', () => {
  it('numbers the unclaimed requests in line order', () => {
    const line = positions([
      student('a', 'ada (TA)'),
      student('b'),
      student('c'),
      student('d', 'lin (instructor)'),
      student('e')
    ]);
    expect([...line]).toEqual([
      ['b', 1],
      ['c', 2],
      ['e', 3]
    ]);
  });

  it('says the figures of today', () => {
    const stats: HelpStats = {
      serverTime: new Date(0).toISOString(),
      today: {
        requests: 12,
        answered: 10,
        open: 2,
        medianWaitSeconds: 100,
        longestWaitSeconds: 7260
      },
      sessions: []
    };
    expect(figuresText(stats)).toBe(
      'Today: 12 requests, median wait 1 min 40 s, longest 2 h 01 min'
    );
    stats.today = { ...stats.today, requests: 0 };
    expect(figuresText(stats)).toBe('Today: no help requests yet.');
    expect(formatSeconds(null)).toBe('–');
    expect(formatSeconds(44.6)).toBe('45 s');
  });
});
