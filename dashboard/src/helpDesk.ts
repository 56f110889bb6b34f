// The TAs' side of help requests: who I am (how my claims show), my teams,
// the "mine only" filter of the help list, and the wait figures of today.
// The requests themselves come with the live feed (helpSince, helpClaimedBy);
// this reads /api/v1/help/queue once for the caller's identity and
// /api/v1/help/stats now and then for the figures.

import { getJson } from './api.js';
import { setText } from './dom.js';
import type { HelpQueue, HelpStats, StudentView } from './wire.gen.js';

const STATS_EVERY_MS = 30_000;

/** "1 min 40 s", "45 s", "2 h 05 min" for a number of seconds. */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null) {
    return '–';
  }
  const s = Math.round(seconds);
  if (s < 60) {
    return `${s} s`;
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return `${minutes} min ${String(s % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** The line under the help list: today's requests and waits. */
export function figuresText(stats: HelpStats): string {
  const today = stats.today;
  if (today.requests === 0) {
    return 'Today: no help requests yet.';
  }
  return (
    `Today: ${today.requests} request${today.requests === 1 ? '' : 's'}, ` +
    `median wait ${formatSeconds(today.medianWaitSeconds)}, ` +
    `longest ${formatSeconds(today.longestWaitSeconds)}`
  );
}

/** Open requests claimed by nobody, in line order: each one's place (1 = next). */
export function positions(help: StudentView[]): Map<string, number> {
  const places = new Map<string, number>();
  for (const student of help) {
    if (!student.helpClaimedBy) {
      places.set(student.student, places.size + 1);
    }
  }
  return places;
}

export class HelpDesk {
  me: string | null = null;
  myTeams: string[] = [];
  mineOnly = false;
  private timer = 0;

  constructor(
    private readonly figures: HTMLElement,
    private readonly mineToggle: HTMLInputElement,
    private readonly changed: () => void
  ) {
    mineToggle.addEventListener('change', () => {
      this.mineOnly = mineToggle.checked;
      this.changed();
    });
  }

  async start(): Promise<void> {
    try {
      const queue = await getJson<HelpQueue>('/api/v1/help/queue');
      this.me = queue.me;
      this.myTeams = queue.myTeams;
      const teams = this.myTeams.length
        ? ` and teams ${this.myTeams.join(', ')}`
        : '';
      this.mineToggle.title = `Only requests claimed by ${this.me}${teams}`;
      this.changed();
    } catch {
      /* the list still works; "mine" then means nothing is mine */
    }
    await this.refreshStats();
    this.timer = window.setInterval(
      () => void this.refreshStats(),
      STATS_EVERY_MS
    );
  }

  stop(): void {
    window.clearInterval(this.timer);
  }

  async refreshStats(): Promise<void> {
    try {
      setText(
        this.figures,
        figuresText(await getJson<HelpStats>('/api/v1/help/stats'))
      );
    } catch {
      /* kept: the last figures stay until the next try */
    }
  }

  isMine(student: StudentView): boolean {
    return (
      (this.me !== null && student.helpClaimedBy === this.me) ||
      (student.teamName !== null && this.myTeams.includes(student.teamName))
    );
  }

  /** The help list as shown: everyone's, or with "mine only" the caller's. */
  shown(help: StudentView[]): StudentView[] {
    return this.mineOnly ? help.filter(s => this.isMine(s)) : help;
  }
}
