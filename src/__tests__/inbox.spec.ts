import { helpDisplay, HelpRequestState, ordinal } from '../helpState';
import { InboxClient, InboxFetch } from '../inbox';
import type { HelpRequestView, LabInbox } from '../wire.gen';
import { MemoryStorage } from './helpers';

function view(fields: Partial<HelpRequestView>): HelpRequestView {
  return {
    id: 1,
    state: 'open',
    openedAt: new Date(0).toISOString(),
    position: 1,
    claimedBy: null,
    claimedAt: null,
    closedAt: null,
    helpRequestId: 'ask-1',
    ...fields
  };
}

function copy(
  etag: string,
  help: HelpRequestView | null,
  state = 'ok'
): LabInbox {
  return {
    etag,
    state: state as LabInbox['state'],
    detail: null,
    inbox: { etag, help, messages: [] }
  };
}

/** A fetch answered by the test, one long-poll at a time. */
class ScriptedServer {
  readonly calls: { since: string | null; wait: number }[] = [];
  private _answer: ((value: LabInbox | null) => void) | null = null;

  fetch: InboxFetch = (since, wait, signal) => {
    this.calls.push({ since, wait });
    return new Promise((resolve, reject) => {
      this._answer = resolve;
      signal.addEventListener('abort', () => reject(new Error('aborted')));
    });
  };

  async answer(value: LabInbox | null): Promise<void> {
    const answer = this._answer;
    this._answer = null;
    answer?.(value);
    // Let the client's loop run to its next request.
    for (let i = 0; i < 5; i++) {
      await Promise.resolve();
    }
  }
}

describe('ordinal', () => {
  it('says 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 112th', () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 112].map(ordinal)).toEqual([
      '1st',
      '2nd',
      '3rd',
      '4th',
      '11th',
      '12th',
      '13th',
      '21st',
      '22nd',
      '112th'
    ]);
  });
});

describe('helpDisplay', () => {
  it('shows the place in line, who is coming, and a recent closing', () => {
    expect(helpDisplay(null).label).toBe('Ask for help');
    expect(helpDisplay(view({ position: 3 })).label).toBe(
      'Help requested — 3rd in line'
    );
    const claimed = helpDisplay(
      view({ state: 'claimed', position: null, claimedBy: 'Ada (TA)' })
    );
    expect(claimed).toMatchObject({
      label: 'Ada (TA) is on the way',
      active: true
    });
    const closedAt = new Date(1_000_000).toISOString();
    const closed = view({ state: 'dismissed', closedAt });
    expect(helpDisplay(closed, 1_000_000 + 60_000).label).toBe(
      'Closed by the instructor'
    );
    expect(helpDisplay(closed, 1_000_000 + 60 * 60_000).label).toBe(
      'Ask for help'
    );
    expect(helpDisplay(view({ state: 'resolved' })).label).toBe('Ask for help');
  });
});

describe('InboxClient', () => {
  it('asks at once, then long-polls with the etag it holds', async () => {
    const server = new ScriptedServer();
    const client = new InboxClient(server.fetch, { waitSeconds: 25 });
    const seen: string[] = [];
    client.subscribe(c => seen.push(c.etag));
    client.start();
    expect(server.calls).toEqual([{ since: null, wait: 0 }]);
    await server.answer(copy('a', null));
    expect(server.calls[1]).toEqual({ since: 'a', wait: 25 });
    await server.answer(copy('a', null)); // unchanged: no listener call
    await server.answer(copy('b', view({})));
    expect(seen).toEqual(['a', 'b']);
    expect(client.current?.etag).toBe('b');
    client.stop();
  });

  it('backs off after a failed poll and recovers', async () => {
    const server = new ScriptedServer();
    const sleeps: number[] = [];
    const client = new InboxClient(server.fetch, {
      backoff: { initialMs: 100, maxMs: 1000 },
      sleep: async ms => {
        sleeps.push(ms);
      }
    });
    client.start();
    await server.answer(null);
    await server.answer(null);
    expect(sleeps.length).toBe(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(50);
    expect(sleeps[1]).toBeGreaterThanOrEqual(100);
    await server.answer(copy('a', null));
    expect(client.current?.etag).toBe('a');
    client.stop();
  });
});

describe('HelpRequestState', () => {
  it('asks with a new request id and shows it pending until the inbox has it', async () => {
    const server = new ScriptedServer();
    const client = new InboxClient(server.fetch);
    const sent: { type: string; fields: Record<string, unknown> }[] = [];
    const state = new HelpRequestState(
      client,
      (type, fields) => sent.push({ type, fields }),
      new MemoryStorage()
    );
    client.start();
    await server.answer(copy('a', null));
    expect(state.shared).toBe(true);
    state.toggle('lesson.ipynb');
    expect(sent[0].type).toBe('help');
    const id = sent[0].fields.helpRequestId as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(state.display('lesson.ipynb').label).toBe('Asking for help…');
    await server.answer(copy('b', view({ helpRequestId: id, position: 2 })));
    expect(state.display('lesson.ipynb').label).toBe(
      'Help requested — 2nd in line'
    );
    // Pressed again: withdraws that request.
    state.toggle('other.ipynb');
    expect(sent[1]).toEqual({
      type: 'help_stop',
      fields: { notebookPath: 'other.ipynb', helpRequestId: id }
    });
    await server.answer(
      copy('c', view({ helpRequestId: id, state: 'withdrawn' }))
    );
    expect(state.display('lesson.ipynb').label).toBe('Ask for help');
    client.stop();
  });

  it('keeps the old toggle in this browser when the server cannot tell students apart', async () => {
    const server = new ScriptedServer();
    const client = new InboxClient(server.fetch);
    const sent: string[] = [];
    const storage = new MemoryStorage();
    const state = new HelpRequestState(
      client,
      type => sent.push(type),
      storage
    );
    client.start();
    await server.answer(copy('refused:-', null, 'refused'));
    expect(state.shared).toBe(false);
    state.toggle('a.ipynb');
    expect(state.display('a.ipynb').label).toBe('Help requested');
    expect(state.display('b.ipynb').label).toBe('Ask for help');
    state.toggle('a.ipynb');
    expect(sent).toEqual(['help', 'help_stop']);
    expect(storage.data.size).toBe(0);
    client.stop();
  });
});
