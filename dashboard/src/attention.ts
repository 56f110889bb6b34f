// Needs attention: open help requests (oldest first, with waiting time) and
// stuck students (with the error they keep hitting), each with its action.
// An item is built once per student and updated in place, so the button the
// instructor is on keeps the focus while that student's updates arrive.

import { el, reorder, setText } from './dom.js';
import { positions } from './helpDesk.js';
import {
  displayName,
  formatWaiting,
  IAttention,
  IStudent,
  notebookLabel,
  publicName
} from './state.js';

export type AttentionKind = 'help' | 'stuck';

interface IItem {
  node: HTMLElement;
  name: HTMLButtonElement;
  wait: HTMLElement;
  detail: HTMLElement;
  error: HTMLElement;
  streak: HTMLElement;
  claimed: HTMLElement;
  claim: HTMLButtonElement | null;
  action: HTMLButtonElement;
  student: IStudent;
}

export interface IAttentionActions {
  act(kind: AttentionKind, student: string): void;
  open(student: string): void;
  /** Say "on my way" for a help request (`takeOver`: someone else had it). */
  claim(student: string, takeOver: boolean): void;
  /** How the signed-in account's claims show ("ada (TA)"), once known. */
  me(): string | null;
  /** A hint to every student stuck on the cell this student is stuck on. */
  hintStuck?(student: IStudent): void;
}

const ACTION_LABEL: Record<AttentionKind, string> = {
  help: 'Dismiss',
  stuck: 'Handled'
};

export class AttentionList {
  private readonly items = new Map<string, IItem>();
  private projector = false;
  /** Help: each unclaimed request's place in line (of the whole class). */
  places = new Map<string, number>();

  constructor(
    private readonly kind: AttentionKind,
    private readonly list: HTMLElement,
    private readonly empty: HTMLElement,
    private readonly count: HTMLElement,
    private readonly actions: IAttentionActions,
    /** Takes the focus when the last item goes. */
    private readonly fallback: () => HTMLElement
  ) {}

  setProjector(on: boolean): void {
    this.projector = on;
  }

  render(students: IStudent[], now: number): void {
    const keep = new Set(students.map(s => s.student));
    const lost = this.focusedLeaving(keep);
    for (const [key, item] of this.items) {
      if (!keep.has(key)) {
        item.node.remove();
        this.items.delete(key);
      }
    }
    const nodes = students.map(student => this.item(student).node);
    reorder(this.list, nodes);
    if (lost) {
      // The item the instructor was on is gone (dismissed, here or elsewhere):
      // the same control of the item now in its place, else the panel.
      const next = nodes[Math.min(lost.index, nodes.length - 1)];
      const target = next?.querySelector<HTMLElement>(lost.selector);
      (target ?? this.fallback()).focus();
    }
    this.empty.hidden = students.length > 0;
    setText(this.count, String(students.length));
    this.tick(now);
  }

  /** Where the focus was, when it is in an item about to go. */
  private focusedLeaving(
    keep: ReadonlySet<string>
  ): { index: number; selector: string } | null {
    const active = this.list.ownerDocument.activeElement;
    const node = active?.closest<HTMLElement>('.attention-item');
    const key = node?.dataset.student;
    if (!node || !key || keep.has(key) || !this.list.contains(node)) {
      return null;
    }
    return {
      index: [...this.list.children].indexOf(node),
      selector: active!.classList.contains('attention-action')
        ? '.attention-action'
        : '.attention-open'
    };
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
    const item = this.items.get(student.student) ?? this.create(student);
    item.student = student;
    const name = this.projector ? publicName(student) : displayName(student);
    setText(item.name, name);
    const label = `${ACTION_LABEL[this.kind]}: ${name}`;
    if (item.action.getAttribute('aria-label') !== label) {
      item.action.setAttribute('aria-label', label);
    }
    const where = [
      student.teamName ?? '',
      notebookLabel(student.lastNotebook),
      student.lastCellIndex !== null ? `cell ${student.lastCellIndex}` : ''
    ]
      .filter(Boolean)
      .join(' · ');
    const error = student.lastError;
    if (this.kind === 'stuck' && error) {
      const cell = error.cellIndex !== null ? ` (cell ${error.cellIndex})` : '';
      setText(item.error, `${error.name ?? 'Error'}: ${error.message ?? ''}`);
      setText(item.streak, ` ×${student.consecutiveErrors}${cell}`);
      setText(item.detail, '');
    } else {
      setText(item.error, '');
      setText(item.streak, '');
      setText(item.detail, where);
    }
    item.error.hidden = item.error.textContent === '';
    if (this.kind === 'help') {
      this.showClaim(item, name);
    }
    return item;
  }

  private showClaim(item: IItem, name: string): void {
    const by = item.student.helpClaimedBy;
    const place = this.places.get(item.student.student);
    setText(
      item.claimed,
      by ? `${by} on the way` : place !== undefined ? `#${place} in line` : ''
    );
    item.claimed.classList.toggle('attention-claimed-by', Boolean(by));
    const claim = item.claim!;
    const mine = by !== null && by === this.actions.me();
    claim.hidden = mine;
    const text = by ? 'Take over' : 'On my way';
    setText(claim, text);
    const label = `${text}: ${name}`;
    if (claim.getAttribute('aria-label') !== label) {
      claim.setAttribute('aria-label', label);
    }
  }

  private create(student: IStudent): IItem {
    const key = student.student;
    const name = el('button', {
      type: 'button',
      class: 'attention-open',
      'data-student': key
    });
    name.addEventListener('click', () => this.actions.open(key));
    const wait = el('span', { class: 'attention-wait' });
    const error = el('code', { class: 'attention-error' });
    const streak = el('span', { class: 'attention-streak' });
    const detail = el('span', { class: 'attention-where' });
    const action = el('button', {
      type: 'button',
      class: 'attention-action',
      'data-action': this.kind,
      text: ACTION_LABEL[this.kind]
    });
    action.addEventListener('click', () => this.actions.act(this.kind, key));
    const hint = this.hintButton(key);
    const claimed = el('span', { class: 'attention-claimed' });
    let claim: HTMLButtonElement | null = null;
    if (this.kind === 'help') {
      claim = el('button', {
        type: 'button',
        class: 'attention-claim',
        'data-action': 'claim',
        text: 'On my way'
      });
      claim.addEventListener('click', () => {
        const item = this.items.get(key);
        this.actions.claim(key, Boolean(item?.student.helpClaimedBy));
      });
    }
    const node = el(
      'li',
      {
        class: `attention-item attention-${this.kind}`,
        'data-student': key
      },
      el('div', { class: 'attention-head' }, name, wait),
      el('div', { class: 'attention-detail' }, error, streak, detail, claimed),
      ...(claim ? [claim] : []),
      action,
      hint
    );
    const item: IItem = {
      node,
      name,
      wait,
      detail,
      error,
      streak,
      claimed,
      claim,
      action,
      student
    };
    this.items.set(key, item);
    return item;
  }

  private hintButton(key: string): HTMLElement | null {
    const hintStuck = this.actions.hintStuck;
    if (this.kind !== 'stuck' || !hintStuck) {
      return null;
    }
    const hint = el('button', {
      type: 'button',
      class: 'attention-hint small',
      text: 'Hint to all stuck here'
    });
    hint.addEventListener('click', () => {
      const item = this.items.get(key);
      if (item) {
        hintStuck(item.student);
      }
    });
    return hint;
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
        actions,
        () => root
      );
    this.help = part('help');
    this.stuck = part('stuck');
  }

  setProjector(on: boolean): void {
    this.help.setProjector(on);
    this.stuck.setProjector(on);
  }

  /** `shownHelp`: the help requests to list (all, or "mine only"). */
  render(attention: IAttention, now: number, shownHelp = attention.help): void {
    this.help.places = positions(attention.help);
    this.help.render(shownHelp, now);
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
