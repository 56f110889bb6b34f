// The HTML of a message, as the server's Markdown renderer wrote it, rebuilt
// element by element from the contract's allowlist (the one the server renders
// to): whatever else it might hold (a tag, an attribute, a link to javascript:)
// never reaches the page.

import { MARKDOWN_ALLOWLIST } from './wire.gen.js';

const TAGS = new Set(MARKDOWN_ALLOWLIST.tags);
const CODE_CLASS = new RegExp(MARKDOWN_ALLOWLIST.codeClassPattern);

/** Whether `href` (trimmed) is an absolute web or mail link the allowlist names. */
export function safeLink(href: string): boolean {
  const link = href.trim().toLowerCase();
  return MARKDOWN_ALLOWLIST.linkPrefixes.some(prefix =>
    link.startsWith(prefix)
  );
}

/** A fragment holding `html`'s allowed elements and all of its text. */
export function safeFragment(
  html: string,
  doc: Document = document
): DocumentFragment {
  const parsed = new DOMParser().parseFromString(html, 'text/html');
  const out = doc.createDocumentFragment();
  copyChildren(parsed.body, out, doc);
  return out;
}

function copyChildren(from: Node, to: Node, doc: Document): void {
  for (const child of Array.from(from.childNodes)) {
    if (child.nodeType === Node.TEXT_NODE) {
      to.appendChild(doc.createTextNode(child.textContent ?? ''));
    } else if (child.nodeType === Node.ELEMENT_NODE) {
      const source = child as Element;
      const tag = source.tagName.toLowerCase();
      if (tag === 'script' || tag === 'style' || tag === 'template') {
        continue; // their text is code, not content
      }
      if (!TAGS.has(tag)) {
        copyChildren(source, to, doc); // unwrap: keep the text
        continue;
      }
      const copy = doc.createElement(tag);
      copyAttributes(source, copy, tag);
      copyChildren(source, copy, doc);
      to.appendChild(copy);
    }
  }
}

function copyAttributes(source: Element, copy: Element, tag: string): void {
  const allowed = MARKDOWN_ALLOWLIST.attributes[tag] ?? [];
  const href = source.getAttribute('href');
  if (allowed.includes('href') && href && safeLink(href)) {
    copy.setAttribute('href', href.trim());
    // Set here, whatever the HTML said: a new tab, no referrer.
    copy.setAttribute('target', MARKDOWN_ALLOWLIST.linkTarget);
    copy.setAttribute('rel', MARKDOWN_ALLOWLIST.linkRel);
  }
  const language = source.getAttribute('class');
  if (allowed.includes('class') && language && CODE_CLASS.test(language)) {
    copy.setAttribute('class', language);
  }
}
