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

/**
 * Put `wanted` into `parent` in that order, moving only what is out of place.
 *
 * The child holding the keyboard focus is never moved (a moved element loses
 * focus): the elements between it and its place move around it instead.
 */
export function reorder(parent: Element, wanted: readonly Element[]): void {
  const pinned = focusedChild(parent);
  let cursor = parent.firstElementChild;
  for (const node of wanted) {
    if (node === cursor) {
      cursor = cursor.nextElementSibling;
    } else if (node === pinned && pinned.parentElement === parent) {
      // Everything from the cursor up to the pinned node comes later (or goes):
      // set it aside, the loop puts back what is wanted.
      const aside = parent.ownerDocument.createDocumentFragment();
      while (cursor && cursor !== pinned) {
        const next: Element | null = cursor.nextElementSibling;
        aside.append(cursor);
        cursor = next;
      }
      cursor = pinned.nextElementSibling;
    } else {
      parent.insertBefore(node, cursor);
    }
  }
  while (cursor) {
    const next = cursor.nextElementSibling;
    cursor.remove();
    cursor = next;
  }
}

export const STATUS_LABEL: Record<string, string> = {
  help: 'Help',
  stuck: 'Stuck',
  error: 'Error',
  active: 'Active',
  idle: 'Idle'
};

// Shapes as well as colours: the status reads without colour vision.
export const STATUS_ICON: Record<string, string> = {
  help: '⚑',
  stuck: '⊘',
  error: '⚠',
  active: '●',
  idle: '○'
};

export function timeOf(value: string | null): string {
  return value ? new Date(value).toLocaleTimeString() : '';
}
