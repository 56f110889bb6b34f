// Class replay view: a time slider over a window of stored events; the status
// grid, needs-attention list and heatmap as they were at that moment.

import { getJson } from './api.js';
import {
  byId,
  el,
  reorder,
  setText,
  STATUS_ICON,
  STATUS_LABEL
} from './dom.js';
import { fillOptions } from './overview.js';
import { NotebookChoices } from './progress.js';
import { IStudentAt, name, ReplayModel } from './replayModel.js';
import type { ReplayOut } from './wire.gen.js';

const STEP_MS = 250; // how often playing moves the slider

export class ReplayView {
  private readonly start = byId<HTMLInputElement>('replay-start');
  private readonly end = byId<HTMLInputElement>('replay-end');
  private readonly notebook = byId<HTMLSelectElement>('replay-notebook');
  private readonly slider = byId<HTMLInputElement>('replay-slider');
  private readonly notebooks = new NotebookChoices();
  private model: ReplayModel | null = null;
  private readonly tiles = new Map<string, HTMLButtonElement>();
  private readonly heatCells = new Map<string, HTMLTableCellElement[]>();
  private timer = 0;
  private speed = 0;
  private visible = false;

  constructor(private readonly openStudent: (student: string) => void) {
    byId('replay-form').addEventListener('submit', event => {
      event.preventDefault();
      void this.load();
    });
    this.slider.addEventListener('input', () => this.render());
    for (const button of document.querySelectorAll<HTMLButtonElement>(
      '[data-replay-speed]'
    )) {
      button.addEventListener('click', () =>
        this.play(Number(button.dataset.replaySpeed))
      );
    }
  }

  setVisible(visible: boolean): void {
    if (visible && !this.visible) {
      void this.prepare();
    }
    if (!visible) {
      this.play(0);
    }
    this.visible = visible;
  }

  private async prepare(): Promise<void> {
    if (!this.end.value) {
      const now = new Date();
      this.end.value = localInput(now);
      this.start.value = localInput(new Date(now.getTime() - 2 * 3600_000));
    }
    const paths = await this.notebooks.load();
    fillOptions(
      this.notebook,
      'All notebooks',
      paths,
      this.notebook.value || null
    );
  }

  private async load(): Promise<void> {
    this.play(0);
    const start = new Date(this.start.value);
    const end = new Date(this.end.value);
    const replay = await getJson<ReplayOut>('/api/v1/replay', {
      start: start.toISOString(),
      end: end.toISOString(),
      notebook: this.notebook.value || null
    });
    this.model = new ReplayModel(replay);
    this.tiles.clear();
    byId('replay-grid').replaceChildren();
    this.buildHeatmap(this.model);
    this.slider.min = String(this.model.start);
    this.slider.max = String(this.model.end);
    this.slider.step = '1000';
    this.slider.value = String(this.model.start);
    this.slider.disabled = false;
    setText(
      byId('replay-summary'),
      `${replay.students.length} students · ${replay.frames.length} changes` +
        (replay.truncated ? ' (window cut: too many events)' : '')
    );
    this.render();
  }

  /** Play at `speed`× real time (0 pauses). */
  private play(speed: number): void {
    this.speed = speed;
    for (const button of document.querySelectorAll<HTMLButtonElement>(
      '[data-replay-speed]'
    )) {
      button.setAttribute(
        'aria-pressed',
        String(Number(button.dataset.replaySpeed) === speed && speed > 0)
      );
    }
    window.clearInterval(this.timer);
    this.timer = 0;
    if (speed > 0 && this.model) {
      this.timer = window.setInterval(() => this.advance(), STEP_MS);
    }
  }

  private advance(): void {
    if (!this.model) {
      return;
    }
    const next = Number(this.slider.value) + STEP_MS * this.speed;
    this.slider.value = String(Math.min(next, this.model.end));
    this.render();
    if (next >= this.model.end) {
      this.play(0);
    }
  }

  render(): void {
    const model = this.model;
    if (!model) {
      return;
    }
    const time = Number(this.slider.value);
    const label = new Date(time).toLocaleString();
    this.slider.setAttribute('aria-valuetext', label);
    setText(byId('replay-time'), label);
    const students = model.studentsAt(time);
    const grid = byId('replay-grid');
    // Tiles and heatmap cells are built once per replay and updated in place:
    // a step touches only what changed at that moment.
    reorder(
      grid,
      students.map(s => this.tile(s))
    );
    this.renderAttention(students, time);
    this.renderHeatmap(model, time);
  }

  private tile(at: IStudentAt): HTMLElement {
    const key = at.student.student;
    let tile = this.tiles.get(key);
    if (!tile) {
      tile = el(
        'button',
        { type: 'button', class: 'replay-tile', 'data-student': key },
        el('span', { class: 'replay-icon', 'aria-hidden': 'true' }),
        el('span', { class: 'replay-name', text: name(at.student) }),
        el('span', { class: 'replay-status' })
      );
      tile.addEventListener('click', () => this.openStudent(key));
      this.tiles.set(key, tile);
    }
    const cell = at.frame?.cellIndex;
    const where = cell !== null && cell !== undefined ? ` · cell ${cell}` : '';
    const text = ` ${STATUS_LABEL[at.status]}${where}`;
    if (tile.dataset.status !== at.status) {
      tile.dataset.status = at.status;
      tile.className = `replay-tile status-${at.status}`;
      setText(tile.children[0], `${STATUS_ICON[at.status]} `);
    }
    setText(tile.children[2], text);
    return tile;
  }

  private renderAttention(students: IStudentAt[], time: number): void {
    const waiting = (since: string | null) =>
      since
        ? ` — waiting ${Math.max(0, Math.round((time - Date.parse(since)) / 60000))} min`
        : '';
    const help = students.filter(s => s.status === 'help');
    const stuck = students.filter(s => s.status === 'stuck');
    byId('replay-help').replaceChildren(
      ...help.map(s =>
        el('li', {
          text: `${name(s.student)}${waiting(s.frame?.helpSince ?? null)}`
        })
      )
    );
    byId('replay-stuck').replaceChildren(
      ...stuck.map(s =>
        el('li', {
          text: `${name(s.student)} — ${s.frame?.consecutiveErrors ?? 0} failed runs in a row`
        })
      )
    );
    setText(byId('replay-help-count'), String(help.length));
    setText(byId('replay-stuck-count'), String(stuck.length));
  }

  /** The heatmap table of the loaded replay (students × cells), empty cells. */
  private buildHeatmap(model: ReplayModel): void {
    const box = byId('replay-heatmap');
    this.heatCells.clear();
    if (!model.replay.notebook || model.cellCount === 0) {
      box.replaceChildren(
        el('p', {
          class: 'muted',
          text: 'Choose a notebook to see its cells as they were.'
        })
      );
      return;
    }
    const head = el('tr', {}, el('th', { scope: 'col', text: 'Student' }));
    for (let cell = 0; cell < model.cellCount; cell++) {
      head.append(el('th', { scope: 'col', text: String(cell) }));
    }
    const body = el('tbody');
    const byName = [...model.replay.students].sort((a, b) =>
      name(a).localeCompare(name(b))
    );
    for (const student of byName) {
      const row = el(
        'tr',
        { 'data-student': student.student },
        el('th', { scope: 'row', text: name(student) })
      );
      const cells: HTMLTableCellElement[] = [];
      for (let cell = 0; cell < model.cellCount; cell++) {
        const td = el('td', { class: 'hm-cell none', title: 'not run' });
        cells.push(td);
        row.append(td);
      }
      this.heatCells.set(student.student, cells);
      body.append(row);
    }
    box.replaceChildren(
      el('table', { class: 'heatmap' }, el('thead', {}, head), body)
    );
  }

  private renderHeatmap(model: ReplayModel, time: number): void {
    for (const [student, cells] of this.heatCells) {
      cells.forEach((td, index) => {
        const state = model.cellAt(student, index, time) ?? 'none';
        if (td.dataset.state !== state) {
          td.dataset.state = state;
          td.className = `hm-cell ${state}`;
          td.title = state === 'none' ? 'not run' : state;
          td.textContent = state === 'ok' ? '✓' : state === 'failed' ? '✕' : '';
        }
      });
    }
  }
}

function localInput(date: Date): string {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}
