/**
 * @jest-environment jsdom
 */
// Messages in the lab: shown once, merged with what the server says, and the
// panel's buttons, with JupyterLab's own sanitizer against hostile HTML.

import { Sanitizer } from '@jupyterlab/apputils/lib/sanitizer';

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
  it('announces a message once, also after a reload', () => {
    const storage = new MemoryStorage();
    const store = new MessageStore(storage);
    expect(store.receive([message('m1')]).map(m => m.id)).toEqual(['m1']);
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
