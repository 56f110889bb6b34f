// Needs attention: open help requests (oldest first, with waiting time) and
// stuck students (with the error they keep hitting), each with its action.

import { el, reorder, setText } from './dom.js';
import { displayName, formatWaiting, IAttention, IStudent } from './state.js';

export type AttentionKind = 'help' | 'stuck';

interface IItem {
  node: HTMLElement;
  wait: HTMLElement;
  detail: HTMLElement;
  action: HTMLButtonElement;
  student: IStudent;
  signature: string;
}

export interface IAttentionActions {
  act(kind: AttentionKind, student: string): void;
  open(student: string): void;
}

class AttentionList {
  private readonly items = new Map<string, IItem>();

  constructor(
    private readonly kind: AttentionKind,
    private readonly list: HTMLElement,
    private readonly empty: HTMLElement,
    private readonly count: HTMLElement,
    private readonly actions: IAttentionActions
  ) {}

  render(students: IStudent[], now: number): void {
    const keep = new Set(students.map(s => s.student));
    for (const [key, item] of this.items) {
      if (!keep.has(key)) {
        item.node.remove();
        this.items.delete(key);
      }
    }
    const nodes = students.map(student => this.item(student).node);
    reorder(this.list, nodes);
    this.empty.hidden = students.length > 0;
    setText(this.count, String(students.length));
    this.tick(now);
  }

  tick(now: number): void {
    for (const item of this.items.values()) {
      const since =
        this.kind === 'help'
          ? item.student.helpSince
          : (item.student.lastError?.at ?? null);
      const label = this.kind === 'help' ? 'waiting' : 'since';
      setText(item.wait, `${label} ${formatWaiting(since, now)}`);
    }
  }

  first(): HTMLElement | null {
    return this.list.querySelector<HTMLElement>('.attention-open');
  }

  private item(student: IStudent): IItem {
    const signature = `${student.version}`;
    const known = this.items.get(student.student);
    if (known && known.signature === signature) {
      return known;
    }
    const name = el('button', {
      type: 'button',
      class: 'attention-open',
      'data-student': student.student,
      text: displayName(student)
    });
    name.addEventListener('click', () => this.actions.open(student.student));
    const wait = el('span', { class: 'attention-wait' });
    const detail = el('span', { class: 'attention-detail' });
    const team = student.teamName ?? '';
    const where = student.lastNotebook ?? '';
    if (this.kind === 'stuck' && student.lastError) {
      const error = student.lastError;
      const cell = error.cellIndex !== null ? ` (cell ${error.cellIndex})` : '';
      detail.append(
        el('code', {
          text: `${error.name ?? 'Error'}: ${error.message ?? ''}`
        }),
        ` ×${student.consecutiveErrors}${cell}`
      );
    } else {
      detail.textContent = [team, where].filter(Boolean).join(' · ');
    }
    const label = this.kind === 'help' ? 'Dismiss' : 'Handled';
    const action = el('button', {
      type: 'button',
      class: 'attention-action',
      'data-action': this.kind,
      'aria-label': `${label}: ${displayName(student)}`,
      text: label
    });
    action.addEventListener('click', () =>
      this.actions.act(this.kind, student.student)
    );
    const node = el(
      'li',
      {
        class: `attention-item attention-${this.kind}`,
        'data-student': student.student
      },
      el('div', { class: 'attention-head' }, name, wait),
      detail,
      action
    );
    const item: IItem = { node, wait, detail, action, student, signature };
    if (known) {
      known.node.replaceWith(node);
    }
    this.items.set(student.student, item);
    return item;
  }
}

export class AttentionPanel {
  private readonly help: AttentionList;
  private readonly stuck: AttentionList;

  constructor(root: HTMLElement, actions: IAttentionActions) {
    const part = (kind: AttentionKind) =>
      new AttentionList(
        kind,
        root.querySelector<HTMLElement>(`#${kind}-list`)!,
        root.querySelector<HTMLElement>(`#${kind}-empty`)!,
        root.querySelector<HTMLElement>(`#${kind}-count`)!,
        actions
      );
    this.help = part('help');
    this.stuck = part('stuck');
  }

  render(attention: IAttention, now: number): void {
    this.help.render(attention.help, now);
    this.stuck.render(attention.stuck, now);
  }

  tick(now: number): void {
    this.help.tick(now);
    this.stuck.tick(now);
  }

  /** The first help request (else stuck student), for the `h` shortcut. */
  first(): HTMLElement | null {
    return this.help.first() ?? this.stuck.first();
  }
}
