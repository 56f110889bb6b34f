/**
 * @jest-environment jsdom
 */
// Messages on the dashboard: the receipts line, what each student did, the
// posted body, and HTML that could only come from a broken renderer.

import { messageBody, newRequestId } from '../compose';
import { receiptText, recipientState } from '../messages';
import { safeFragment } from '../safeHtml';
import type { Receipts, Recipient } from '../wire.gen';

const RECEIPTS: Receipts = {
  recipients: 46,
  delivered: 46,
  seen: 31,
  inserted: 12,
  acknowledged: 0,
  replied: 2
};

function recipient(fields: Partial<Recipient>): Recipient {
  return {
    student: 'ada@example.org',
    userName: 'Ada',
    teamName: null,
    deliveredAt: null,
    seenAt: null,
    insertedAt: null,
    acknowledgedAt: null,
    replies: [],
    ...fields
  };
}

function html(source: string): string {
  const box = document.createElement('div');
  box.append(safeFragment(source));
  return box.innerHTML;
}

describe('receipts', () => {
  it('say how many saw, inserted and replied', () => {
    expect(receiptText(RECEIPTS, true)).toBe(
      'seen by 31 of 46 · inserted by 12 · 2 replied'
    );
    expect(receiptText({ ...RECEIPTS, delivered: 40 }, false)).toBe(
      'seen by 31 of 46 · 2 replied · 6 not reached yet'
    );
  });

  it('name the furthest a student got', () => {
    const at = '2026-01-01T10:00:00+00:00';
    expect(recipientState(recipient({}))).toBe('not reached yet');
    expect(recipientState(recipient({ deliveredAt: at }))).toBe(
      'delivered, not seen yet'
    );
    expect(recipientState(recipient({ seenAt: at }))).toBe('seen');
    expect(recipientState(recipient({ seenAt: at, insertedAt: at }))).toBe(
      'inserted the snippet'
    );
    expect(recipientState(recipient({ acknowledgedAt: at }))).toBe('got it');
  });
});

describe('compose', () => {
  it('posts a trimmed body and no blank snippet', () => {
    const audience = { kind: 'class' as const };
    expect(messageBody('r', audience, '  hi  ', '   ')).toEqual({
      requestId: 'r',
      body: 'hi',
      snippet: null,
      audience
    });
    expect(messageBody('r', audience, 'hi', '  x = 1\n\n').snippet).toBe(
      '  x = 1'
    );
  });

  it('makes version-4 UUIDs', () => {
    const id = newRequestId();
    expect(id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
    );
    expect(newRequestId()).not.toBe(id);
  });
});

describe('safeFragment', () => {
  it('keeps what Markdown makes', () => {
    expect(
      html(
        '<p>Use <strong>df</strong> <a href="https://x.org" rel="x">docs</a></p>' +
          '<pre><code class="language-python">x = 1</code></pre>'
      )
    ).toBe(
      '<p>Use <strong>df</strong> <a href="https://x.org" target="_blank" ' +
        'rel="noopener noreferrer nofollow">docs</a></p>' +
        '<pre><code class="language-python">x = 1</code></pre>'
    );
  });

  it.each([
    ['<script>alert(1)</script><p>hi</p>', '<p>hi</p>'],
    ['<img src=x onerror="alert(1)">', ''],
    ['<p onclick="alert(1)">hi</p>', '<p>hi</p>'],
    ['<a href="javascript:alert(1)">x</a>', '<a>x</a>'],
    ['<a href=" JAVASCRIPT:alert(1)">x</a>', '<a>x</a>'],
    ['<a href="/api/contents">x</a>', '<a>x</a>'],
    ['<iframe src="https://evil.example"></iframe>ok', 'ok'],
    ['<svg><script>alert(1)</script></svg>', ''],
    ['<div><b>bold</b></div>', 'bold'],
    ['<style>p{}</style>text', 'text'],
    ['<code class="x onload">a</code>', '<code>a</code>']
  ])('drops what Markdown never makes: %s', (source, expected) => {
    expect(html(source)).toBe(expected);
  });
});
