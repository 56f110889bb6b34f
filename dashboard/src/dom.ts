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

/** Put `wanted` into `parent` in that order, moving only what is out of place. */
export function reorder(parent: Element, wanted: readonly Element[]): void {
  let cursor = parent.firstElementChild;
  for (const node of wanted) {
    if (node === cursor) {
      cursor = cursor.nextElementSibling;
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
