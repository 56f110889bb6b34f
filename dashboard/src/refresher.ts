// Views backed by a REST query refetch when the live feed says their data
// changed (never on a timer), at most once per interval, and only while shown.

export class Refresher {
  private visible = false;
  private stale = true;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private last = 0;

  constructor(
    private readonly load: () => Promise<void>,
    private readonly intervalMs = 1500
  ) {}

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.stale) {
      this.request();
    }
  }

  /** The data changed: refetch soon (now, if the last fetch is old enough). */
  request(): void {
    this.stale = true;
    if (!this.visible || this.timer !== undefined || this.running) {
      return;
    }
    const wait = Math.max(0, this.last + this.intervalMs - Date.now());
    this.timer = setTimeout(() => void this.run(), wait);
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    this.stale = false;
    this.last = Date.now();
    try {
      await this.load();
    } catch (error) {
      console.warn('dashboard view refresh failed', error);
    } finally {
      this.running = false;
    }
    if (this.stale) {
      this.request();
    }
  }
}
