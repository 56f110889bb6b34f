// The HTML of a message, as the server's Markdown renderer wrote it, rebuilt
// element by element from an allowlist: whatever else it might hold (a tag, an
// attribute, a link to javascript:) never reaches the page.

const TAGS = new Set([
  'p',
  'em',
  'strong',
  'code',
  'pre',
  'a',
  'ul',
  'ol',
  'li',
  'blockquote',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'br'
]);
const SAFE_LINK = /^(https?:\/\/|mailto:)/i;

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
      const href = source.getAttribute('href');
      if (tag === 'a' && href && SAFE_LINK.test(href.trim())) {
        copy.setAttribute('href', href.trim());
        copy.setAttribute('target', '_blank');
        copy.setAttribute('rel', 'noopener noreferrer nofollow');
      }
      const language = source.getAttribute('class');
      if (tag === 'code' && language && /^language-[\w-]+$/.test(language)) {
        copy.setAttribute('class', language);
      }
      copyChildren(source, copy, doc);
      to.appendChild(copy);
    }
  }
}
