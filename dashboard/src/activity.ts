// Activity: executions and errors per minute over the last 1/3/6/24 hours
// (GET /api/v1/activity), then kept current from the live feed.

import { getJson } from './api.js';
import { byId, setText } from './dom.js';
import type { ActivityMinute, ActivityOut, LiveEvent } from './wire.gen.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 1200;
const HEIGHT = 320;
const PAD_LEFT = 64;
const PAD_RIGHT = 16;
const PAD_TOP = 16;
const PAD_BOTTOM = 56;

/**
 * Y-axis ticks for counts up to `peak`: 0 and 2–5 round steps (1, 2, 5 × 10^k),
 * all distinct integers, the last >= peak.
 */
export function niceTicks(peak: number): number[] {
  const top = Math.max(1, Math.ceil(peak));
  let step = 1;
  for (let magnitude = 1; ; magnitude *= 10) {
    const found = [1, 2, 5].map(f => f * magnitude).find(s => top / s <= 5);
    if (found !== undefined) {
      step = found;
      break;
    }
  }
  const ticks: number[] = [];
  for (let value = 0; value < top + step; value += step) {
    ticks.push(value);
  }
  return ticks;
}

/** Minutes between time labels for a window of `hours`. */
const LABEL_EVERY: Record<number, number> = { 1: 10, 3: 30, 6: 60, 24: 180 };

/**
 * The minutes (since the epoch) of the x-axis labels: round clock times
 * (every 10 min for an hour, ...), in local time, within [start, end].
 */
export function timeTicks(
  start: number,
  end: number,
  hours: number,
  offsetMinutes: number = new Date(end * 60_000).getTimezoneOffset()
): number[] {
  const every = LABEL_EVERY[hours] ?? Math.max(10, Math.round(hours * 10));
  const ticks: number[] = [];
  // Local clock minute = epoch minute - offset (getTimezoneOffset is UTC - local).
  const first =
    Math.ceil((start - offsetMinutes) / every) * every + offsetMinutes;
  for (let m = first; m <= end; m += every) {
    ticks.push(m);
  }
  return ticks;
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    node.setAttribute(name, String(value));
  }
  return node;
}

function text(
  content: string,
  attrs: Record<string, string | number>
): SVGTextElement {
  const node = svg('text', attrs);
  node.textContent = content;
  return node;
}

function minuteOf(time: string): number {
  return Math.floor(Date.parse(time) / 60_000);
}

export class ActivityView {
  private hours = 1;
  private minutes = new Map<number, ActivityMinute>();
  private loaded = false;
  private visible = false;
  private drawPending = false;

  constructor() {
    for (const button of document.querySelectorAll<HTMLButtonElement>(
      '[data-hours]'
    )) {
      button.addEventListener('click', () => {
        this.hours = Number(button.dataset.hours);
        for (const other of document.querySelectorAll('[data-hours]')) {
          other.setAttribute('aria-pressed', String(other === button));
        }
        void this.load();
      });
    }
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && !this.loaded) {
      void this.load();
    } else if (visible) {
      this.draw();
    }
  }

  onEvents(events: LiveEvent[]): void {
    if (!this.loaded) {
      return;
    }
    for (const event of events) {
      if (event.eventType !== 'cell_executed' || !event.eventTime) {
        continue;
      }
      const key = minuteOf(event.eventTime);
      const minute = this.minutes.get(key) ?? {
        time: new Date(key * 60_000).toISOString(),
        executions: 0,
        errors: 0
      };
      minute.executions += 1;
      minute.errors += event.hasError ? 1 : 0;
      this.minutes.set(key, minute);
    }
    if (this.visible && !this.drawPending) {
      this.drawPending = true;
      setTimeout(() => {
        this.drawPending = false;
        this.draw();
      }, 1000);
    }
  }

  private async load(): Promise<void> {
    const data = await getJson<ActivityOut>('/api/v1/activity', {
      hours: this.hours
    });
    this.minutes = new Map(data.minutes.map(m => [minuteOf(m.time), { ...m }]));
    this.loaded = true;
    const note = data.fallbackReason
      ? ` (InfluxDB unavailable: ${data.fallbackReason})`
      : '';
    setText(byId('activity-source'), `Source: ${data.source}${note}`);
    this.draw();
  }

  private draw(): void {
    const end = Math.floor(Date.now() / 60_000);
    const count = this.hours * 60;
    const start = end - count + 1;
    let peak = 1;
    let executions = 0;
    let errors = 0;
    for (let m = start; m <= end; m++) {
      const minute = this.minutes.get(m);
      if (minute) {
        peak = Math.max(peak, minute.executions);
        executions += minute.executions;
        errors += minute.errors;
      }
    }
    const chart = svg('svg', {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      class: 'activity-svg',
      'aria-label': `Executions per minute, last ${this.hours} h: ${executions} executions, ${errors} errors`
    });
    const plotW = WIDTH - PAD_LEFT - PAD_RIGHT;
    const plotH = HEIGHT - PAD_TOP - PAD_BOTTOM;
    const bottom = PAD_TOP + plotH;
    const step = plotW / count;
    const ticks = niceTicks(peak);
    const scale = ticks[ticks.length - 1];
    for (const value of ticks) {
      const y = bottom - (plotH * value) / scale;
      chart.append(
        svg('line', {
          x1: PAD_LEFT,
          x2: WIDTH - PAD_RIGHT,
          y1: y,
          y2: y,
          class: value === 0 ? 'baseline' : 'grid'
        })
      );
      chart.append(
        text(String(value), {
          x: PAD_LEFT - 8,
          y: y + 4,
          class: 'axis',
          'text-anchor': 'end'
        })
      );
    }
    for (let m = start; m <= end; m++) {
      const minute = this.minutes.get(m);
      if (!minute) {
        continue;
      }
      const x = PAD_LEFT + (m - start) * step;
      const width = Math.max(1, step * 0.8);
      const okHeight = (plotH * (minute.executions - minute.errors)) / scale;
      const errHeight = (plotH * minute.errors) / scale;
      const title = `${new Date(m * 60_000).toLocaleTimeString()}: ${minute.executions} executions, ${minute.errors} errors`;
      const bar = svg('g', { class: 'bar' });
      const ok = svg('rect', {
        x,
        width,
        y: bottom - okHeight,
        height: okHeight,
        class: 'ok'
      });
      const err = svg('rect', {
        x,
        width,
        y: bottom - okHeight - errHeight,
        height: errHeight,
        class: 'err'
      });
      const tip = svg('title', {});
      tip.textContent = title;
      bar.append(ok, err, tip);
      chart.append(bar);
    }
    for (const at of timeTicks(start, end, this.hours)) {
      const x = PAD_LEFT + (at - start + 0.4) * step;
      chart.append(
        svg('line', {
          x1: x,
          x2: x,
          y1: bottom,
          y2: bottom + 5,
          class: 'grid'
        }),
        text(
          new Date(at * 60_000).toLocaleTimeString([], {
            hour: '2-digit',
            minute: '2-digit'
          }),
          { x, y: bottom + 20, class: 'axis', 'text-anchor': 'middle' }
        )
      );
    }
    chart.append(
      text('Time (local)', {
        x: PAD_LEFT + plotW / 2,
        y: HEIGHT - 8,
        class: 'axis-title',
        'text-anchor': 'middle'
      }),
      text('Executions / min', {
        x: -(PAD_TOP + plotH / 2),
        y: 16,
        class: 'axis-title',
        'text-anchor': 'middle',
        transform: 'rotate(-90)'
      })
    );
    if (executions === 0) {
      chart.append(
        text(
          `No cell has run in the last ${this.hours} h. A bar per minute ` +
            'appears here as students run cells (failed runs stacked on top).',
          {
            x: PAD_LEFT + plotW / 2,
            y: PAD_TOP + plotH / 2,
            class: 'empty-note',
            'text-anchor': 'middle'
          }
        )
      );
    }
    byId('activity-chart').replaceChildren(chart);
    setText(
      byId('activity-totals'),
      `${executions} executions · ${errors} errors (${executions ? Math.round((100 * errors) / executions) : 0}% failed)`
    );
  }
}
