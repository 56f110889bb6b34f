// A few DOM helpers. Text always goes in as text (never HTML): names, code and
// error messages come from students.

export type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, string | boolean | number | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) {
      continue;
    }
    if (name === 'class') {
      node.className = String(value);
    } else if (name === 'text') {
      node.textContent = String(value);
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(node, ...children);
  return node;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      parent.appendChild(
        typeof child === 'string' ? document.createTextNode(child) : child
      );
    }
  }
}

/** Set text only when it differs: no needless layout work. */
export function setText(node: Element, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) {
    throw new Error(`#${id} is missing from the page`);
  }
  return node as T;
}

/** The child of `parent` that holds the keyboard focus, if any. */
export function focusedChild(parent: Element): Element | null {
  let node = parent.ownerDocument.activeElement;
  while (node && node.parentElement !== parent) {
    node = node.parentElement;
  }
  return node && node.parentElement === parent ? node : null;
}

/** Positions (into `values`) of a longest strictly increasing subsequence. */
export function longestIncreasing(values: readonly number[]): number[] {
  const tails: number[] = []; // tails[k]: position ending the best run of length k+1
  const previous = new Array<number>(values.length).fill(-1);
  for (let i = 0; i < values.length; i++) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (values[tails[mid]] < values[i]) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    previous[i] = lo > 0 ? tails[lo - 1] : -1;
    tails[lo] = i;
  }
  const run: number[] = [];
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0;) {
    run.push(i);
    i = previous[i];
  }
  return run.reverse();
}

/** The elements of `wanted` that can stay where they are: the most, in order. */
function staying(
  wanted: readonly Element[],
  index: Map<Element, number>,
  pinned: Element | null
): Set<Element> {
  const at = (from: number, to: number, keep: (i: number) => boolean) => {
    const nodes = wanted.slice(from, to).filter(n => {
      const i = index.get(n);
      return i !== undefined && keep(i);
    });
    return longestIncreasing(nodes.map(n => index.get(n)!)).map(k => nodes[k]);
  };
  const p = pinned ? wanted.indexOf(pinned) : -1;
  if (p < 0 || !index.has(pinned!)) {
    return new Set(at(0, wanted.length, () => true));
  }
  // The focused element must stay: the best run through it.
  const mine = index.get(pinned!)!;
  return new Set([
    ...at(0, p, i => i < mine),
    pinned!,
    ...at(p + 1, wanted.length, i => i > mine)
  ]);
}

/**
 * Put `wanted` into `parent` in that order with the fewest moves: the longest
 * run already in order stays, only the others move (one tile that changes
 * place is one move, whatever the size of the class). The child holding the
 * keyboard focus never moves (a moved element loses the focus).
 */
export function reorder(parent: Element, wanted: readonly Element[]): void {
  const keep = new Set(wanted);
  const index = new Map<Element, number>();
  let position = 0;
  for (const child of [...parent.children]) {
    if (keep.has(child)) {
      index.set(child, position++);
    } else {
      child.remove();
    }
  }
  const stay = staying(wanted, index, focusedChild(parent));
  let anchor: Element | null = null;
  for (let i = wanted.length - 1; i >= 0; i--) {
    const node = wanted[i];
    if (!stay.has(node)) {
      parent.insertBefore(node, anchor);
    }
    anchor = node;
  }
}

export const STATUS_LABEL: Record<string, string> = {
  help: 'Help',
  stuck: 'Stuck',
  quiet: 'Quiet',
  error: 'Error',
  away: 'Away',
  active: 'Active',
  idle: 'Idle'
};

// Shapes as well as colours: the status reads without colour vision.
export const STATUS_ICON: Record<string, string> = {
  help: '⚑',
  stuck: '⊘',
  quiet: '✎',
  error: '⚠',
  away: '◌',
  active: '●',
  idle: '○'
};

export function timeOf(value: string | null): string {
  return value ? new Date(value).toLocaleTimeString() : '';
}
