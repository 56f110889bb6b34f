// Rendering of diffs: removed and added lines marked by a sign as well as colour.

import { el } from './dom.js';
import { IDiffLine } from './linediff.js';

const SIGN: Record<IDiffLine['op'], string> = {
  same: ' ',
  added: '+',
  removed: '−'
};

const LABEL: Record<IDiffLine['op'], string> = {
  same: '',
  added: 'added: ',
  removed: 'removed: '
};

export function diffBlock(lines: IDiffLine[], label: string): HTMLElement {
  const pre = el('pre', { class: 'diff', 'aria-label': label });
  for (const line of lines) {
    pre.append(
      el(
        'span',
        { class: `diff-line diff-${line.op}` },
        el('span', {
          class: 'diff-sign',
          'aria-hidden': 'true',
          text: SIGN[line.op]
        }),
        el('span', { class: 'sr-only', text: LABEL[line.op] }),
        line.text,
        '\n'
      )
    );
  }
  return pre;
}
