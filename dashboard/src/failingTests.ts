// The Errors view's failing tests, grouped by question: how many students
// currently fail each one, and who (each name opens the student).

import { el } from './dom.js';
import type { FailingOut, FailingQuestion } from './wire.gen.js';

export function failingTests(
  out: FailingOut,
  openStudent: (student: string) => void,
  open: ReadonlySet<string | undefined>,
  showNotebook: boolean
): HTMLElement[] {
  if (out.items.length === 0) {
    return [el('li', { class: 'muted', text: 'No test is failing.' })];
  }
  return out.items.map(q => item(q, openStudent, open, showNotebook));
}

function item(
  q: FailingQuestion,
  openStudent: (student: string) => void,
  open: ReadonlySet<string | undefined>,
  showNotebook: boolean
): HTMLElement {
  const key = `test\u0000${q.notebook}\u0000${q.question}`;
  const people = el('ul', { class: 'hotspot-students' });
  for (const who of q.students) {
    const name = who.userName || who.student;
    const error = who.errorName ? ` · ${who.errorName}` : '';
    const button = el('button', {
      type: 'button',
      class: 'link',
      'data-student': who.student,
      text: `${who.teamName ? `${name} (${who.teamName})` : name}${error}`
    });
    button.addEventListener('click', () => openStudent(who.student));
    people.append(el('li', {}, button));
  }
  const cell = q.cellIndex !== null ? `cell ${q.cellIndex}` : 'a test cell';
  const where = showNotebook ? `${cell} of ${q.notebook}` : cell;
  return el(
    'li',
    { class: 'hotspot-item failing-test', 'data-question': q.question },
    el(
      'details',
      { class: 'hotspot', 'data-key': key, open: open.has(key) },
      el(
        'summary',
        {},
        el('span', { class: 'hotspot-count', text: String(q.failing) }),
        el('span', {
          class: 'hotspot-unit',
          text: q.failing === 1 ? ' student fails ' : ' students fail '
        }),
        el('code', { class: 'hotspot-error', text: q.question }),
        el('span', { class: 'hotspot-where', text: `on ${where}` })
      ),
      people
    )
  );
}
