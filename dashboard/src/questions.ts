// The class view's test results: pass rate per question (a strip above the
// tiles) and each tile's "4/7 passed", refetched when a test cell ran.

import { getJson } from './api.js';
import { el, setText } from './dom.js';
import { Refresher } from './refresher.js';
import { ClassTests, rateText, touchesTests } from './signals.js';
import { notebookLabel } from './state.js';
import type { LiveEvent, QuestionsOut } from './wire.gen.js';

export class QuestionRates {
  readonly tests = new ClassTests();
  private readonly refresher = new Refresher(() => this.load(), 2500);

  constructor(
    private readonly root: HTMLElement,
    private readonly notebook: () => string | null,
    private readonly onTests: (tests: ClassTests) => void
  ) {}

  setVisible(visible: boolean): void {
    this.refresher.setVisible(visible);
  }

  onEvents(events: readonly LiveEvent[], reset: boolean): void {
    if (reset || touchesTests(events)) {
      this.refresher.request();
    }
  }

  /** The notebook filter changed: show its questions. */
  redraw(): void {
    const questions = this.tests.questions(this.notebook());
    const list = el('ol', { class: 'question-rates' });
    for (const q of questions) {
      const bar = el('span', { class: 'qr-bar', 'aria-hidden': 'true' });
      bar.style.setProperty('--fill', String(q.passRate));
      list.append(
        el(
          'li',
          {
            class: 'qr-item',
            'data-question': q.question,
            title: `${q.notebook}, cell ${q.cellIndex ?? '?'}: ${q.everPassed} passed at least once`
          },
          el('span', {
            class: 'qr-name',
            text: this.notebook()
              ? q.question
              : `${notebookLabel(q.notebook)} · ${q.question}`
          }),
          bar,
          el('span', { class: 'qr-text', text: rateText(q) })
        )
      );
    }
    this.root.hidden = questions.length === 0;
    const title = el('h2', {
      class: 'qr-title',
      text: 'Tests: pass rate per question'
    });
    this.root.replaceChildren(title, list);
    setText(title, `Tests: pass rate per question (${questions.length})`);
  }

  private async load(): Promise<void> {
    this.tests.set(await getJson<QuestionsOut>('/api/v1/questions'));
    this.onTests(this.tests);
    this.redraw();
  }
}
