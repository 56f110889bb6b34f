// Activity: executions and errors per minute over the last 1/3/6/24 hours
// (GET /api/v1/activity), then kept current from the live feed.

import { getJson } from './api.js';
import { byId, setText } from './dom.js';
import type { ILiveEvent } from './state.js';

interface IMinute {
  time: string;
  executions: number;
  errors: number;
}

interface IActivity {
  source: string;
  hours: number;
  minutes: IMinute[];
  fallbackReason: string | null;
}

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 1200;
const HEIGHT = 320;
const PAD = 36;

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

function minuteOf(time: string): number {
  return Math.floor(Date.parse(time) / 60_000);
}

export class ActivityView {
  private hours = 1;
  private minutes = new Map<number, IMinute>();
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

  onEvents(events: ILiveEvent[]): void {
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
    const data = await getJson<IActivity>('/api/v1/activity', {
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
      'aria-label': `Last ${this.hours} h: ${executions} executions, ${errors} errors`
    });
    const plotW = WIDTH - PAD * 2;
    const plotH = HEIGHT - PAD * 2;
    const step = plotW / count;
    for (const fraction of [0, 0.5, 1]) {
      const y = PAD + plotH * (1 - fraction);
      chart.append(
        svg('line', { x1: PAD, x2: WIDTH - PAD, y1: y, y2: y, class: 'grid' })
      );
      const label = svg('text', {
        x: PAD - 6,
        y: y + 4,
        class: 'axis',
        'text-anchor': 'end'
      });
      label.textContent = String(Math.round(peak * fraction));
      chart.append(label);
    }
    for (let m = start; m <= end; m++) {
      const minute = this.minutes.get(m);
      if (!minute) {
        continue;
      }
      const x = PAD + (m - start) * step;
      const width = Math.max(1, step * 0.8);
      const okHeight = (plotH * (minute.executions - minute.errors)) / peak;
      const errHeight = (plotH * minute.errors) / peak;
      const title = `${new Date(m * 60_000).toLocaleTimeString()}: ${minute.executions} executions, ${minute.errors} errors`;
      const bar = svg('g', { class: 'bar' });
      const ok = svg('rect', {
        x,
        width,
        y: PAD + plotH - okHeight,
        height: okHeight,
        class: 'ok'
      });
      const err = svg('rect', {
        x,
        width,
        y: PAD + plotH - okHeight - errHeight,
        height: errHeight,
        class: 'err'
      });
      const tip = svg('title', {});
      tip.textContent = title;
      bar.append(ok, err, tip);
      chart.append(bar);
    }
    for (const [at, text] of [
      [
        start,
        new Date(start * 60_000).toLocaleTimeString([], {
          hour: '2-digit',
          minute: '2-digit'
        })
      ],
      [end, 'now']
    ] as const) {
      const label = svg('text', {
        x: PAD + (at - start) * step,
        y: HEIGHT - PAD + 18,
        class: 'axis',
        'text-anchor': at === end ? 'end' : 'start'
      });
      label.textContent = text;
      chart.append(label);
    }
    byId('activity-chart').replaceChildren(chart);
    setText(
      byId('activity-totals'),
      `${executions} executions · ${errors} errors (${executions ? Math.round((100 * errors) / executions) : 0}% failed)`
    );
  }
}
