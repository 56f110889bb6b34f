// The student dialog's test results and time on task, notebook by notebook
// (GET /api/v1/student-signals).

import { getJson } from './api.js';
import { el } from './dom.js';
import { formatDuration } from './signals.js';
import type { NotebookSignals, StudentSignals } from './wire.gen.js';

export async function loadStudentSignals(
  root: HTMLElement,
  student: string,
  stillOpen: () => boolean
): Promise<void> {
  root.replaceChildren();
  const data = await getJson<StudentSignals>('/api/v1/student-signals', {
    student
  });
  if (!stillOpen()) {
    return; // another student's dialog by now
  }
  root.replaceChildren(...studentSignals(data));
}

export function studentSignals(data: StudentSignals): HTMLElement[] {
  if (data.notebooks.length === 0) {
    return [
      el('p', { class: 'muted', text: 'No test result or time recorded yet.' })
    ];
  }
  return data.notebooks.map(notebook);
}

function notebook(n: NotebookSignals): HTMLElement {
  const passed = n.questions.filter(q => q.passed).length;
  const tests = n.questions.length
    ? ` · ${passed}/${n.questions.length} passed`
    : '';
  const questions = el('ul', { class: 'plain signal-questions' });
  for (const q of n.questions) {
    const when = q.firstPassedAt
      ? `first passed ${new Date(q.firstPassedAt).toLocaleTimeString()}`
      : 'not passed yet';
    questions.append(
      el(
        'li',
        {
          class: q.passed ? 'q-passed' : 'q-failed',
          'data-question': q.question
        },
        el('span', { 'aria-hidden': 'true', text: q.passed ? '✔ ' : '✘ ' }),
        `${q.question}: ${q.passed ? 'passed' : 'failing'} (${q.attempts} ${q.attempts === 1 ? 'try' : 'tries'}, ${when})`
      )
    );
  }
  const table = el(
    'table',
    { class: 'signal-cells' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...['Cell', 'Time', 'Edits', 'Runs', 'To pass'].map(h =>
          el('th', { scope: 'col', text: h })
        )
      )
    )
  );
  const body = el('tbody');
  for (const c of n.cells) {
    body.append(
      el(
        'tr',
        { 'data-cell': String(c.cellIndex) },
        el('td', { text: String(c.cellIndex) }),
        el('td', { text: formatDuration(c.activeSeconds) }),
        el('td', { text: String(c.edits) }),
        el('td', { text: String(c.runs) }),
        el('td', { text: formatDuration(c.secondsToPass) })
      )
    );
  }
  table.append(body);
  return el(
    'section',
    { class: 'signal-notebook', 'data-notebook': n.notebook },
    el('h4', {
      text: `${n.notebook}: ${formatDuration(n.activeSeconds)} active${tests}`
    }),
    questions,
    table
  );
}
