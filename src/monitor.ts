/**
 * The delivery side of the extension, one per page: the browser queue, the
 * batcher, the transport to the server extension and the status it reports.
 * Capture code hands it events through `emit`; it decides whether they may
 * be captured and sent at all.
 */

import { EventBatcher, IBatchSender, SendOutcome } from './batcher';
import { withoutEngagement } from './engagement';
import { IMonitorEvent, makeEvent, newEventId } from './events';
import {
  ConsentState,
  PreConsentBuffer,
  consentState,
  noticeConfigOf
} from './notice';
import { IKeyValueStorage, PendingQueue } from './queue';
import { IMonitorSettings } from './settings';
import { StatusIndicator } from './statusIndicator';
import { ServerExtensionTransport } from './transport';
import type { LabStatus, NoticeConfig } from './wire.gen';

const HEARTBEAT_MS = 10000;
const STATUS_POLL_MS = 15000;
const STATUS_DEBOUNCE_MS = 1000;
const BACKOFF = { initialMs: 1000, maxMs: 60000 };

export class Monitor {
  constructor(
    settings: () => IMonitorSettings,
    storage: IKeyValueStorage | null
  ) {
    this._settings = settings;
    const initial = settings();
    this.queue = new PendingQueue({
      instanceId: this.sessionId,
      maxEvents: initial.maxPendingEvents,
      storage
    });
    this._transport = new ServerExtensionTransport(() => this._settings());
    this._batcher = new EventBatcher(
      this.queue,
      this._gatedSender(),
      {
        flushIntervalMs: initial.flushIntervalMs,
        maxBatchEvents: initial.maxBatchEvents,
        backoff: BACKOFF
      },
      () => this._onActivity()
    );
  }

  /** One id per page load: it names this page's storage and is the sessionId of its events. */
  readonly sessionId = newEventId();
  readonly queue: PendingQueue;
  readonly indicator = new StatusIndicator();

  /**
   * Both sides must agree: the student's setting and the Jupyter server's
   * configuration (CELL_MONITOR_ENABLED). While the server extension does not
   * answer, the setting decides and events wait in the browser queue.
   */
  isEnabled(): boolean {
    return this._settings().enabled && this._serverStatus?.enabled !== false;
  }

  /** The latest status of the server extension (null when it did not answer). */
  get status(): LabStatus | null {
    return this._serverStatus;
  }

  /** The operator's notice configuration, once the Jupyter server has answered. */
  get noticeConfig(): NoticeConfig | null {
    return this._noticeConfig;
  }

  /** Called once, when the notice configuration becomes known (to show the notice). */
  onNoticeConfig: ((config: NoticeConfig) => void) | null = null;

  consent(): ConsentState {
    return consentState(this._settings(), this._noticeConfig);
  }

  /**
   * Engagement signals may be captured: the course has not turned them off
   * (CELL_MONITOR_ENGAGEMENT on the Jupyter server). Until it has answered,
   * they wait in memory with the other events and are dropped if it says no.
   */
  engagementAllowed(): boolean {
    return this._noticeConfig?.engagement !== false;
  }

  /**
   * Capture an event (when enabled and consented): stamped with ids and
   * identity, then queued. Where consent is required and not given, the event
   * is not kept at all; while that is not known yet, it waits in memory.
   */
  emit(eventType: string, fields: Partial<IMonitorEvent>): void {
    if (!this.isEnabled()) {
      return;
    }
    if (!this.engagementAllowed()) {
      fields = withoutEngagement(eventType, fields);
      if (eventType === 'engagement') {
        return;
      }
    }
    const consent = this.consent();
    if (consent === 'awaiting-consent') {
      return;
    }
    const event = makeEvent(
      eventType,
      this._settings(),
      this.sessionId,
      fields
    );
    if (consent === 'unknown') {
      this._preConsent.hold(event);
    } else {
      this._batcher.add(event);
    }
  }

  /** Ask the server extension, adopt what earlier pages left, and keep going. */
  start(): void {
    // Not awaited by the plugin: JupyterLab waits for plugins to activate,
    // and a slow Jupyter server must not delay the student's workspace.
    void this._pollStatus().finally(() => {
      this._adoptLeftovers();
      if (this.isEnabled()) {
        this._batcher.flushSoon();
      }
    });
    setInterval(() => this._adoptLeftovers(), HEARTBEAT_MS);
    setInterval(() => void this._pollStatus(), STATUS_POLL_MS);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden' && this.isEnabled()) {
        this._batcher.flushSoon();
      }
    });
    // A page that goes away hands its unsent events to the next one at once
    // (they are already in localStorage; this only skips the stale timeout).
    window.addEventListener('pagehide', () => this.queue.release());
  }

  /** Re-render the indicator (after a settings change, say). */
  refresh(): void {
    this.indicator.display({
      enabled: this.isEnabled(),
      batcher: this._batcher.state,
      server: this._serverStatus,
      awaitingConsent: this.consent() === 'awaiting-consent'
    });
  }

  /** While disabled nothing leaves the page: batches wait in the queue. */
  private _gatedSender(): IBatchSender {
    return {
      send: (events: IMonitorEvent[]): Promise<SendOutcome> =>
        this.isEnabled() && this.consent() === 'allowed'
          ? this._transport.send(events)
          : Promise.resolve({
              ok: false,
              error: this.isEnabled() ? 'no consent' : 'disabled',
              retryAfterMs: 10000
            })
    };
  }

  /**
   * Activity (an event queued or delivered) is when forwarding news matters:
   * ask the Jupyter server shortly after, at most once per STATUS_DEBOUNCE_MS,
   * so a class-server outage shows at the student's next run, not only on the
   * slow poll. The request is local and tiny.
   */
  private _onActivity(): void {
    this.refresh();
    if (!this._statusPending) {
      this._statusPending = true;
      setTimeout(() => {
        this._statusPending = false;
        void this._pollStatus();
      }, STATUS_DEBOUNCE_MS);
    }
  }

  private async _pollStatus(): Promise<void> {
    if (!this._settings().enabled) {
      return;
    }
    this._serverStatus = await this._transport.status();
    const status = this._serverStatus;
    if (status && status.queueLength > 0 && (status.state ?? 'ok') === 'ok') {
      // Events are on their way: ask again shortly, so that a refused token or
      // a wrong URL shows within seconds rather than at the next slow poll.
      this._onActivity();
    }
    const known = this._noticeConfig !== null;
    const config = noticeConfigOf(this._serverStatus);
    if (config !== null) {
      this._noticeConfig = config;
      this._preConsent.settle(this.consent() === 'allowed', event => {
        if (this.engagementAllowed()) {
          this._batcher.add(event);
        } else if (event.eventType !== 'engagement') {
          this._batcher.add(
            withoutEngagement(event.eventType, event) as IMonitorEvent
          );
        }
      });
      if (!known) {
        this.onNoticeConfig?.(config);
      }
    }
    this.refresh();
  }

  private _adoptLeftovers(): void {
    this.queue.heartbeat();
    if (this.queue.adoptOrphans() > 0 && this.isEnabled()) {
      this._batcher.flushSoon();
    }
  }

  private readonly _settings: () => IMonitorSettings;
  private readonly _transport: ServerExtensionTransport;
  private readonly _batcher: EventBatcher;
  private _serverStatus: LabStatus | null = null;
  private _noticeConfig: NoticeConfig | null = null;
  private readonly _preConsent = new PreConsentBuffer<IMonitorEvent>();
  private _statusPending = false;
}
