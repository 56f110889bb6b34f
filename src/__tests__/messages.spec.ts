/**
 * @jest-environment jsdom
 */
// Messages in the lab: shown once, merged with what the server says, and the
// panel's buttons, with JupyterLab's own sanitizer against hostile HTML.

import { Sanitizer } from '@jupyterlab/apputils/lib/sanitizer';

import { AnnounceClaim, Announcer } from '../announcer';
import { IMessageActions, MessageList } from '../messagePanel';
import { answerFields, IAnswer, MessageStore } from '../messageStore';
import type { InboxMessage } from '../wire.gen';
import { MemoryStorage } from './helpers';

function message(id: string, fields: Partial<InboxMessage> = {}): InboxMessage {
  return {
    id,
    sentAt: `2026-01-01T10:0${id.length}:00+00:00`,
    sender: 'ada',
    bodyHtml: '<p>Check <strong>df</strong></p>',
    snippet: null,
    seenAt: null,
    insertedAt: null,
    acknowledgedAt: null,
    replies: [],
    ...fields
  };
}

describe('MessageStore', () => {
  it('offers a message until it is settled, and never after a reload', () => {
    const storage = new MemoryStorage();
    const store = new MessageStore(storage);
    expect(store.receive([message('m1')]).map(m => m.id)).toEqual(['m1']);
    // Being asked about: not offered twice meanwhile.
    expect(store.receive([message('m1')])).toEqual([]);
    store.release(['m1']);
    expect(store.receive([]).map(m => m.id)).toEqual(['m1']);
    store.settle(['m1']);
    expect(store.receive([message('m1')])).toEqual([]);
    const reloaded = new MessageStore(storage);
    expect(
      reloaded.receive([message('m1'), message('m22')]).map(m => m.id)
    ).toEqual(['m22']);
  });

  it('never announces what the server says was seen', () => {
    const store = new MessageStore(null);
    const seen = message('m1', { seenAt: '2026-01-01T10:00:00+00:00' });
    expect(store.receive([seen])).toEqual([]);
    expect(store.unread()).toBe(0);
  });

  it('keeps the student own actions until the server confirms them', () => {
    const store = new MessageStore(null);
    store.receive([message('m1', { snippet: 'x = 1' })]);
    const at = '2026-01-01T10:05:00+00:00';
    store.note({ kind: 'message_inserted', messageId: 'm1' }, at);
    store.note({ kind: 'message_reply', messageId: 'm1', replyText: 'ok' }, at);
    // The inbox still has the old copy: what the student did stays.
    store.receive([message('m1', { snippet: 'x = 1' })]);
    const kept = store.get('m1')!;
    expect([kept.seenAt, kept.insertedAt, kept.replies.length]).toEqual([
      at,
      at,
      1
    ]);
    expect(
      store.note({ kind: 'message_seen', messageId: 'nope' }, at)
    ).toBeNull();
  });

  it('lists newest first and tolerates broken storage', () => {
    const storage = new MemoryStorage();
    storage.setItem('cell-monitor:messages-shown', '{not json');
    const store = new MessageStore(storage);
    storage.failWrites = true;
    store.receive([message('m1'), message('m333')]);
    expect(store.list().map(m => m.id)).toEqual(['m333', 'm1']);
  });

  it('builds short answer fields', () => {
    expect(answerFields({ kind: 'message_seen', messageId: 'm' })).toEqual({
      messageId: 'm'
    });
    const reply = answerFields({
      kind: 'message_reply',
      messageId: 'm',
      replyText: ` ${'y'.repeat(900)} `
    });
    expect(reply.replyText).toHaveLength(500);
  });
});

/** One Jupyter server's claims: the first tab to ask for an id gets it. */
class ClaimServer {
  readonly claimed = new Set<string>();
  down = false;
  asked: string[][] = [];

  claim: AnnounceClaim = async ids => {
    this.asked.push(ids);
    if (this.down) {
      return null;
    }
    const granted = ids.filter(id => !this.claimed.has(id));
    granted.forEach(id => this.claimed.add(id));
    return granted;
  };
}

function tab(
  server: ClaimServer,
  storage = new MemoryStorage(),
  retries: (() => void)[] = []
): { store: MessageStore; shown: string[]; announcer: Announcer } {
  const store = new MessageStore(storage);
  const shown: string[] = [];
  // Like the lab: a message shown is noted as seen.
  const show = (m: InboxMessage): void => {
    shown.push(m.id);
    store.note({ kind: 'message_seen', messageId: m.id }, m.sentAt);
  };
  const announcer = new Announcer(store, server.claim, show, {
    schedule: (_ms, retry) => retries.push(retry)
  });
  return { store, shown, announcer };
}

describe('Announcer', () => {
  it('announces a message in one tab of all that receive it', async () => {
    const server = new ClaimServer();
    const storage = new MemoryStorage(); // two tabs of one browser
    const tabs = [tab(server, storage), tab(server, storage), tab(server)];
    await Promise.all(
      tabs.map(t => t.announcer.receive([message('m1'), message('m22')]))
    );
    expect(tabs.flatMap(t => t.shown).sort()).toEqual(['m1', 'm22']);
    // The others list them as seen, and none asks again.
    for (const t of tabs) {
      expect(t.store.unread()).toBe(0);
      await t.announcer.receive([message('m1'), message('m22')]);
    }
    expect(tabs.flatMap(t => t.shown)).toHaveLength(2);
    expect(server.asked).toHaveLength(3);
  });

  it('announces nothing again after a reload or in a new browser', async () => {
    const server = new ClaimServer();
    const storage = new MemoryStorage();
    const first = tab(server, storage);
    await first.announcer.receive([message('m1')]);
    expect(first.shown).toEqual(['m1']);
    const reloaded = tab(server, storage);
    const elsewhere = tab(server);
    await reloaded.announcer.receive([message('m1'), message('m22')]);
    await elsewhere.announcer.receive([message('m1'), message('m22')]);
    expect([reloaded.shown, elsewhere.shown]).toEqual([['m22'], []]);
  });

  it('asks again later when the Jupyter server did not answer', async () => {
    const server = new ClaimServer();
    const retries: (() => void)[] = [];
    const { shown, announcer } = tab(server, new MemoryStorage(), retries);
    server.down = true;
    await announcer.receive([message('m1')]);
    await announcer.receive([message('m22')]);
    expect(shown).toEqual([]);
    expect(retries).toHaveLength(1); // one retry pending, not one per failure
    server.down = false;
    retries.shift()!();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(shown).toEqual(['m1', 'm22']);
  });

  it('never asks about what the server says was seen', async () => {
    const server = new ClaimServer();
    const { shown, announcer } = tab(server);
    await announcer.receive([
      message('m1', { seenAt: '2026-01-01T10:00:00+00:00' })
    ]);
    expect([shown, server.asked]).toEqual([[], []]);
  });

  it('asks about a long history in requests the server accepts', async () => {
    const server = new ClaimServer();
    const { shown, announcer } = tab(server);
    const many = Array.from({ length: 230 }, (_, i) => message(`m${i}`));
    await announcer.receive(many);
    expect(server.asked.map(ids => ids.length)).toEqual([100, 100, 30]);
    expect(shown).toHaveLength(230);
  });
});

describe('MessageList', () => {
  const answers: IAnswer[] = [];
  const inserted: string[] = [];
  let notebookOpen = true;
  const actions: IMessageActions = {
    answer: a => answers.push(a),
    insert: snippet => {
      if (notebookOpen) {
        inserted.push(snippet);
      }
      return notebookOpen;
    }
  };

  beforeEach(() => {
    answers.length = 0;
    inserted.length = 0;
    notebookOpen = true;
  });

  function rendered(items: InboxMessage[]): HTMLElement {
    const list = new MessageList(new Sanitizer(), actions);
    list.render(items);
    document.body.replaceChildren(list.node);
    return list.node;
  }

  it('inserts the snippet through the lab and reports it', () => {
    const root = rendered([message('m1', { snippet: 'df = load()' })]);
    expect(root.querySelector('code')!.textContent).toBe('df = load()');
    root.querySelector<HTMLButtonElement>('.cm-Message-insert')!.click();
    expect(inserted).toEqual(['df = load()']);
    expect(answers).toEqual([{ kind: 'message_inserted', messageId: 'm1' }]);
    notebookOpen = false;
    root.querySelector<HTMLButtonElement>('.cm-Message-insert')!.click();
    expect(answers).toHaveLength(1);
    expect(root.querySelector('.cm-Message-status')!.textContent).toMatch(
      /Open a notebook/
    );
  });

  it('answers got it and replies, not blank ones', () => {
    const root = rendered([message('m1')]);
    root.querySelector<HTMLButtonElement>('.cm-Message-gotit')!.click();
    const input = root.querySelector<HTMLInputElement>(
      '.cm-Message-replyText'
    )!;
    const form = root.querySelector('form')!;
    input.value = '   ';
    form.dispatchEvent(new Event('submit', { cancelable: true }));
    input.value = ' thanks ';
    form.dispatchEvent(new Event('submit', { cancelable: true }));
    expect(answers).toEqual([
      { kind: 'message_acknowledged', messageId: 'm1' },
      { kind: 'message_reply', messageId: 'm1', replyText: 'thanks' }
    ]);
    expect(input.value).toBe('');
  });

  it('shows what was done and says when there is nothing', () => {
    const at = '2026-01-01T10:05:00+00:00';
    const root = rendered([
      message('m1', {
        acknowledgedAt: at,
        seenAt: at,
        replies: [{ text: '<b>me</b>', at }]
      })
    ]);
    expect(
      root.querySelector<HTMLButtonElement>('.cm-Message-gotit')!.disabled
    ).toBe(true);
    expect(root.querySelector('.cm-Message-myReply')!.innerHTML).toContain(
      '&lt;b&gt;me&lt;/b&gt;'
    );
    expect(root.querySelector('.cm-Message-new')).toBeNull();
    expect(rendered([]).textContent).toMatch(/No message/);
  });

  it('keeps what Markdown makes, as the allowlist allows it', () => {
    const root = rendered([
      message('m1', {
        bodyHtml:
          '<ol start="3"><li><a href="https://x.org" title="t">docs</a></li></ol>' +
          '<pre><code class="language-python">x = 1</code></pre>'
      })
    ]);
    const body = root.querySelector('.cm-Message-body')!;
    expect(body.innerHTML).toBe(
      '<ol><li><a href="https://x.org" target="_blank" ' +
        'rel="noopener noreferrer nofollow">docs</a></li></ol>' +
        '<pre><code class="language-python">x = 1</code></pre>'
    );
  });

  it.each([
    ['<a href="/api/contents">x</a>', '<a>x</a>'],
    ['<a href="http:api/contents">x</a>', '<a>x</a>'],
    ['<code class="x onload">a</code>', '<code>a</code>'],
    ['<p style="color: red" id="x">a</p>', '<p>a</p>']
  ])('drops what the allowlist does not name: %s', (html, expected) => {
    const root = rendered([message('m1', { bodyHtml: html })]);
    expect(root.querySelector('.cm-Message-body')!.innerHTML).toBe(expected);
  });

  it.each([
    '<script>window.pwned = 1</script>',
    '<img src=x onerror="window.pwned = 1">',
    '<a href="javascript:window.pwned = 1">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<p onclick="window.pwned = 1">x</p>'
  ])('keeps hostile HTML inert: %s', html => {
    const root = rendered([message('m1', { bodyHtml: html })]);
    const body = root.querySelector('.cm-Message-body')!;
    expect(body.querySelector('script, img, iframe')).toBeNull();
    for (const element of body.querySelectorAll('*')) {
      for (const attribute of element.getAttributeNames()) {
        expect(attribute.startsWith('on')).toBe(false);
      }
      expect(element.getAttribute('href') ?? '').not.toMatch(/javascript:/i);
    }
  });
});
