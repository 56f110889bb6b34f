// Line diff for showing how one attempt differs from another (LCS, small inputs:
// cell code). Lines are compared as they are; the caller shows `same` lines muted.

export type DiffOp = 'same' | 'added' | 'removed';

export interface IDiffLine {
  op: DiffOp;
  text: string;
}

// Cells longer than this are shown without alignment (the table would be huge).
const MAX_CELLS = 250_000;

export function lineDiff(before: string, after: string): IDiffLine[] {
  const a = before.split('\n');
  const b = after.split('\n');
  if (a.length * b.length > MAX_CELLS) {
    return [
      ...a.map(text => ({ op: 'removed' as const, text })),
      ...b.map(text => ({ op: 'added' as const, text }))
    ];
  }
  // lcs[i][j]: length of the longest common subsequence of a[i:] and b[j:].
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () =>
    new Array<number>(b.length + 1).fill(0)
  );
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] =
        a[i] === b[j]
          ? lcs[i + 1][j + 1] + 1
          : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: IDiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push({ op: 'same', text: a[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: 'removed', text: a[i++] });
    } else {
      out.push({ op: 'added', text: b[j++] });
    }
  }
  while (i < a.length) {
    out.push({ op: 'removed', text: a[i++] });
  }
  while (j < b.length) {
    out.push({ op: 'added', text: b[j++] });
  }
  return out;
}

/** Lines of a unified diff from the server, classified for display. */
export function unifiedLines(lines: readonly string[]): IDiffLine[] {
  return lines
    .filter(line => !line.startsWith('---') && !line.startsWith('+++'))
    .map(line => {
      if (line.startsWith('+')) {
        return { op: 'added', text: line.slice(1) };
      }
      if (line.startsWith('-')) {
        return { op: 'removed', text: line.slice(1) };
      }
      return { op: 'same', text: line.startsWith(' ') ? line.slice(1) : line };
    });
}
