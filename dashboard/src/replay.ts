// Class replay view: a time slider over a window of stored events; the status
// grid, needs-attention list and heatmap as they were at that moment.

import { getJson } from './api.js';
import { byId, el, setText, STATUS_ICON, STATUS_LABEL } from './dom.js';
import { fillOptions } from './overview.js';
import { NotebookChoices } from './progress.js';
import { IReplay, IStudentAt, name, ReplayModel } from './replayModel.js';

const STEP_MS = 250; // how often playing moves the slider

export class ReplayView {
  private readonly start = byId<HTMLInputElement>('replay-start');
  private readonly end = byId<HTMLInputElement>('replay-end');
  private readonly notebook = byId<HTMLSelectElement>('replay-notebook');
  private readonly slider = byId<HTMLInputElement>('replay-slider');
  private readonly notebooks = new NotebookChoices();
  private model: ReplayModel | null = null;
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
    const replay = await getJson<IReplay>('/api/v1/replay', {
      start: start.toISOString(),
      end: end.toISOString(),
      notebook: this.notebook.value || null
    });
    this.model = new ReplayModel(replay);
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
    const when = new Date(time);
    const label = when.toLocaleString();
    this.slider.setAttribute('aria-valuetext', label);
    setText(byId('replay-time'), label);
    const students = model.studentsAt(time);
    byId('replay-grid').replaceChildren(...students.map(s => this.tile(s)));
    this.renderAttention(students, time);
    this.renderHeatmap(model, students, time);
  }

  private tile(at: IStudentAt): HTMLElement {
    const where =
      at.frame?.cellIndex !== null && at.frame?.cellIndex !== undefined
        ? `cell ${at.frame.cellIndex}`
        : '';
    const button = el(
      'button',
      {
        type: 'button',
        class: `replay-tile status-${at.status}`,
        'data-student': at.student.student
      },
      el('span', { 'aria-hidden': 'true', text: `${STATUS_ICON[at.status]} ` }),
      el('span', { class: 'replay-name', text: name(at.student) }),
      el('span', {
        class: 'replay-status',
        text: ` ${STATUS_LABEL[at.status]}${where ? ` · ${where}` : ''}`
      })
    );
    button.addEventListener('click', () =>
      this.openStudent(at.student.student)
    );
    return button;
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

  private renderHeatmap(
    model: ReplayModel,
    students: IStudentAt[],
    time: number
  ): void {
    const box = byId('replay-heatmap');
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
    const byName = [...students].sort((a, b) =>
      name(a.student).localeCompare(name(b.student))
    );
    for (const s of byName) {
      const row = el(
        'tr',
        {},
        el('th', { scope: 'row', text: name(s.student) })
      );
      for (let cell = 0; cell < model.cellCount; cell++) {
        const state = model.cellAt(s.student.student, cell, time);
        row.append(
          el('td', {
            class: `hm-cell ${state ?? 'none'}`,
            text: state === 'ok' ? '✓' : state === 'failed' ? '✕' : '',
            title: state ?? 'not run'
          })
        );
      }
      body.append(row);
    }
    box.replaceChildren(
      el('table', { class: 'heatmap' }, el('thead', {}, head), body)
    );
  }
}

function localInput(date: Date): string {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}
