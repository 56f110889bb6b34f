import {
  COLLECTED_ITEMS,
  ENGAGEMENT_ITEMS,
  PreConsentBuffer,
  consentState,
  noticeConfigOf,
  noticeContent,
  noticeText,
  shouldShowNotice
} from '../notice';
import { DEFAULT_SETTINGS, IMonitorSettings } from '../settings';
import { indicatorMessage } from '../statusMessage';
import type { LabStatus, NoticeConfig } from '../wire.gen';

function settings(overrides: Partial<IMonitorSettings> = {}): IMonitorSettings {
  return { ...DEFAULT_SETTINGS, ...overrides };
}

function status(overrides: Partial<LabStatus> = {}): LabStatus {
  return {
    enabled: true,
    configured: true,
    hubUser: null,
    identity: null,
    queueLength: 0,
    unreachableSeconds: null,
    warnAfterSeconds: 120,
    lastError: null,
    queueError: null,
    state: 'ok',
    queueFull: false,
    lastDeliveryAt: null,
    delivered: 0,
    serverUrl: 'https://class.example.org',
    notice: {
      requireConsent: false,
      privacyContact: null,
      userId: 'ada',
      engagement: true
    },
    ...overrides
  };
}

const REQUIRED: NoticeConfig = {
  requireConsent: true,
  privacyContact: 'privacy@school.example',
  userId: 'ada',
  engagement: true
};

describe('consentState', () => {
  it('is unknown until the Jupyter server has said whether consent is required', () => {
    expect(consentState(settings(), null)).toBe('unknown');
  });

  it('allows capture when the notice is only informational', () => {
    expect(
      consentState(settings(), { ...REQUIRED, requireConsent: false })
    ).toBe('allowed');
  });

  it('holds capture back where consent is required and not given', () => {
    expect(consentState(settings(), REQUIRED)).toBe('awaiting-consent');
  });

  it('allows capture once the student accepted, whatever the server says', () => {
    const accepted = settings({ noticeAcknowledged: true });
    expect(consentState(accepted, REQUIRED)).toBe('allowed');
    expect(consentState(accepted, null)).toBe('allowed');
  });
});

describe('shouldShowNotice', () => {
  it('shows the notice once the configuration is known and until it is accepted', () => {
    expect(shouldShowNotice(settings(), null)).toBe(false);
    expect(shouldShowNotice(settings(), REQUIRED)).toBe(true);
    expect(
      shouldShowNotice(settings({ noticeAcknowledged: true }), REQUIRED)
    ).toBe(false);
  });

  it('does not bother a student who switched capture off', () => {
    expect(shouldShowNotice(settings({ enabled: false }), REQUIRED)).toBe(
      false
    );
  });
});

describe('noticeConfigOf', () => {
  it('is null without an answer and informational for a server without the field', () => {
    expect(noticeConfigOf(null)).toBeNull();
    expect(noticeConfigOf(status({ notice: undefined }))).toEqual({
      requireConsent: false,
      privacyContact: null,
      userId: null,
      engagement: true
    });
    expect(noticeConfigOf(status({ notice: REQUIRED }))).toBe(REQUIRED);
  });
});

describe('noticeContent', () => {
  it('says what is collected, under which identity, where it goes and whom to ask', () => {
    const content = noticeContent(settings(), status({ notice: REQUIRED }));
    const text = noticeText(content);
    for (const item of COLLECTED_ITEMS) {
      expect(text).toContain(item);
    }
    expect(text).toContain('cell');
    expect(text).toContain('error');
    expect(text).toContain('https://class.example.org');
    expect(text).toContain('your user name on this computer (ada)');
    expect(text).toContain('Contact privacy@school.example');
    expect(text).toContain('Nothing is recorded or sent unless you accept.');
    expect(content.requireConsent).toBe(true);
    expect(content.title).toContain('consent');
  });

  it('lists test results and the engagement signals, unless the course turned them off', () => {
    const text = noticeText(noticeContent(settings(), status()));
    for (const item of ENGAGEMENT_ITEMS) {
      expect(text).toContain(item);
    }
    expect(text).toContain('test cells');
    expect(text).toContain('never the keys you press');
    const off = noticeText(
      noticeContent(
        settings(),
        status({ notice: { ...REQUIRED, engagement: false } })
      )
    );
    expect(off).toContain('test cells');
    for (const item of ENGAGEMENT_ITEMS) {
      expect(off).not.toContain(item);
    }
  });

  it('names the hub user on JupyterHub and the email otherwise', () => {
    const hub = noticeContent(
      settings({ emailAddress: 'x@y.org' }),
      status({ hubUser: 'jdoe' })
    );
    expect(hub.identity).toContain('JupyterHub user name (jdoe)');
    expect(hub.identity).toContain('team your JupyterHub groups give you');
    const email = noticeContent(
      settings({ emailAddress: 'x@y.org' }),
      status()
    );
    expect(email.identity).toContain('x@y.org');
    expect(email.identity).not.toContain('JupyterHub');
  });

  it('falls back to the instructor and the browser setting when the server says nothing', () => {
    const content = noticeContent(
      settings({ serverUrl: 'https://own.example.org' }),
      status({ serverUrl: null, notice: undefined })
    );
    expect(content.destination).toContain('https://own.example.org');
    expect(content.rights).toContain('Ask your instructor');
    expect(content.requireConsent).toBe(false);
    expect(noticeText(content)).not.toContain('unless you accept');
  });

  it('says when no class server is configured yet', () => {
    const content = noticeContent(settings(), status({ serverUrl: null }));
    expect(content.destination).toContain('none is configured yet');
  });
});

describe('PreConsentBuffer', () => {
  it('hands held events over once capture is allowed', () => {
    const buffer = new PreConsentBuffer<number>();
    buffer.hold(1);
    buffer.hold(2);
    const delivered: number[] = [];
    buffer.settle(true, item => delivered.push(item));
    expect(delivered).toEqual([1, 2]);
    expect(buffer.size).toBe(0);
  });

  it('drops held events where consent is required', () => {
    const buffer = new PreConsentBuffer<number>();
    buffer.hold(1);
    const delivered: number[] = [];
    buffer.settle(false, item => delivered.push(item));
    expect(delivered).toEqual([]);
    expect(buffer.size).toBe(0);
  });

  it('keeps at most its limit in memory', () => {
    const buffer = new PreConsentBuffer<number>(3);
    for (let i = 0; i < 10; i++) {
      buffer.hold(i);
    }
    expect(buffer.size).toBe(3);
  });
});

describe('the status bar while consent is awaited', () => {
  const batcher = { pending: 0, dropped: 0, failures: 0, lastError: null };

  it('tells the student nothing is recorded, unless capture is off anyway', () => {
    const input = {
      enabled: true,
      batcher,
      server: status(),
      awaitingConsent: true
    };
    expect(indicatorMessage(input)).toContain('not recording');
    expect(indicatorMessage({ ...input, awaitingConsent: false })).toBe('');
    expect(indicatorMessage({ ...input, enabled: false })).toBe('');
  });
});
