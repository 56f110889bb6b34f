// Error hotspots: per cell, the error names and messages grouped with how many
// students hit them; each group opens onto its students.

import { download, getJson } from './api.js';
import { byId, el } from './dom.js';
import { failingTests } from './failingTests.js';
import { fillOptions } from './overview.js';
import { NotebookChoices } from './progress.js';
import type { Compose } from './compose.js';
import { Refresher } from './refresher.js';
import { touchesTests } from './signals.js';
import type {
  FailingOut,
  Hotspot,
  HotspotsOut,
  LiveEvent
} from './wire.gen.js';

export class HotspotsView {
  private readonly select = byId<HTMLSelectElement>('errors-notebook');
  private readonly window = byId<HTMLSelectElement>('errors-window');
  private readonly notebooks = new NotebookChoices();
  // Heavier queries: at most one refetch per few seconds while errors pour in.
  private readonly refresher = new Refresher(() => this.load(), 4000);
  private chosen: string | null = null;

  constructor(
    private readonly openStudent: (student: string) => void,
    private readonly compose?: Compose
  ) {
    this.select.addEventListener('change', () => {
      this.chosen = this.select.value || null;
      this.refresher.request();
    });
    this.window.addEventListener('change', () => this.refresher.request());
    byId('export-errors').addEventListener('click', () => {
      void download('/api/v1/export/executions.csv', { notebook: this.chosen });
    });
  }

  setVisible(visible: boolean): void {
    this.refresher.setVisible(visible);
  }

  onEvents(events: LiveEvent[], reset: boolean): void {
    const unknown = this.notebooks.note(events, reset);
    const touched = events.some(
      e =>
        e.hasError && (this.chosen === null || e.notebookPath === this.chosen)
    );
    if (reset || touched || unknown || touchesTests(events)) {
      this.refresher.request();
    }
  }

  private async load(): Promise<void> {
    const paths = await this.notebooks.load();
    fillOptions(this.select, 'All notebooks', paths, this.chosen);
    const [hotspots, failing] = await Promise.all([
      getJson<HotspotsOut>('/api/v1/hotspots', {
        notebook: this.chosen,
        hours: this.window.value,
        limit: 30
      }),
      getJson<FailingOut>('/api/v1/questions/failing', {
        notebook: this.chosen,
        limit: 30
      })
    ]);
    const tests = byId('failing-tests');
    const openTests = new Set(
      [...tests.querySelectorAll<HTMLDetailsElement>('details[open]')].map(
        d => d.dataset.key
      )
    );
    tests.replaceChildren(
      ...failingTests(
        failing,
        this.openStudent,
        openTests,
        this.chosen === null
      )
    );
    const root = byId('hotspots');
    const open = new Set(
      [...root.querySelectorAll<HTMLDetailsElement>('details[open]')].map(
        d => d.dataset.key
      )
    );
    root.replaceChildren(
      ...(hotspots.items.length
        ? hotspots.items.map(h => this.item(h, open))
        : [el('li', { class: 'muted', text: 'No errors in this window.' })])
    );
  }

  private item(hotspot: Hotspot, open: Set<string | undefined>): HTMLElement {
    const error = `${hotspot.errorName ?? 'Error'}: ${hotspot.errorMessage ?? ''}`;
    const cellIndex =
      hotspot.cellIndex !== null ? `cell ${hotspot.cellIndex}` : 'unknown cell';
    // With every notebook shown, say which notebook the cell belongs to.
    const cell =
      this.chosen !== null || !hotspot.notebook
        ? cellIndex
        : `${cellIndex} of ${hotspot.notebook}`;
    const key = `${hotspot.notebook}\u0000${hotspot.cellIndex}\u0000${error}`;
    const people = el('ul', { class: 'hotspot-students' });
    for (const who of hotspot.who) {
      const name = who.userName || who.student;
      const button = el('button', {
        type: 'button',
        class: 'link',
        'data-student': who.student,
        text: who.teamName ? `${name} (${who.teamName})` : name
      });
      button.addEventListener('click', () => this.openStudent(who.student));
      people.append(el('li', {}, button));
    }
    const details = el(
      'details',
      { class: 'hotspot', 'data-key': key, open: open.has(key) },
      el(
        'summary',
        {},
        el('span', { class: 'hotspot-count', text: `${hotspot.students}` }),
        el('span', {
          class: 'hotspot-unit',
          text: hotspot.students === 1 ? ' student' : ' students'
        }),
        el('code', { class: 'hotspot-error', text: error }),
        el('span', {
          class: 'hotspot-where',
          text: `on ${cell} · ${hotspot.occurrences} failed runs`
        })
      ),
      people,
      this.hintButton(hotspot, cell)
    );
    return el('li', { class: 'hotspot-item' }, details);
  }

  /** "Send a hint" to the students of the group (as the server finds them now). */
  private hintButton(hotspot: Hotspot, cell: string): HTMLElement | null {
    const compose = this.compose;
    if (!compose || hotspot.cellIndex === null || !hotspot.notebook) {
      return null;
    }
    const hours = Number.parseFloat(this.window.value);
    const count = `${hotspot.students} student${hotspot.students === 1 ? '' : 's'}`;
    const button = el('button', {
      type: 'button',
      class: 'small hotspot-hint',
      text: `Send a hint to these ${count}`
    });
    button.addEventListener('click', () =>
      compose(
        {
          kind: 'hotspot',
          notebook: hotspot.notebook,
          cellIndex: hotspot.cellIndex,
          errorName: hotspot.errorName ?? 'Error',
          errorMessage: hotspot.errorMessage,
          hours: Number.isNaN(hours) ? null : hours
        },
        `the ${count} with ${hotspot.errorName ?? 'an error'} on ${cell}`
      )
    );
    return button;
  }
}
