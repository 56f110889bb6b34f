/**
 * The cell-monitor JupyterLab extension: wires settings, capture, the
 * durable browser queue, batching, the transport to the server extension,
 * the help button and the status indicator together.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { EventBatcher } from './batcher';
import { NotebookCapture } from './capture';
import { IMonitorEvent, makeEvent, newEventId } from './events';
import { HelpButtonExtension } from './helpButton';
import { IKeyValueStorage, PendingQueue } from './queue';
import { IMonitorSettings, readSettings } from './settings';
import { StatusIndicator } from './statusIndicator';
import { IServerStatus, ServerExtensionTransport } from './transport';

const PLUGIN_ID = 'cell-monitor:plugin';
const HEARTBEAT_MS = 10000;
const STATUS_POLL_MS = 15000;
const STATUS_DEBOUNCE_MS = 1000;

function localStorageOrNull(): IKeyValueStorage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled by the browser's privacy settings
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Reports cell executions, notebook activity and help requests to the class server.',
  autoStart: true,
  requires: [INotebookTracker, ISettingRegistry],
  optional: [IStatusBar],
  activate: async (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    registry: ISettingRegistry,
    statusBar: IStatusBar | null
  ) => {
    let settings: IMonitorSettings = readSettings(null);
    try {
      const loaded = await registry.load(PLUGIN_ID);
      settings = readSettings(loaded);
      loaded.changed.connect(() => {
        settings = readSettings(loaded);
        refresh();
      });
    } catch (error) {
      console.warn('cell-monitor: settings unavailable, using defaults', error);
    }

    const storage = localStorageOrNull();
    // One id per page load: it names this page's storage and is the
    // sessionId of its events.
    const sessionId = newEventId();
    const transport = new ServerExtensionTransport(() => settings);
    // While disabled nothing leaves the page: batches wait in the queue.
    const sender = {
      send: (events: IMonitorEvent[]) =>
        isEnabled()
          ? transport.send(events)
          : Promise.resolve({
              ok: false as const,
              error: 'disabled',
              retryAfterMs: 10000
            })
    };
    const queue = new PendingQueue({
      instanceId: sessionId,
      maxEvents: settings.maxPendingEvents,
      storage
    });
    const indicator = new StatusIndicator();
    let serverStatus: IServerStatus | null = null;
    const refresh = () =>
      indicator.display({
        enabled: isEnabled(),
        batcher: batcher.state,
        server: serverStatus
      });
    const pollStatus = async () => {
      if (!settings.enabled) {
        return;
      }
      serverStatus = await transport.status();
      refresh();
    };
    // Activity (an event queued or delivered) is when forwarding news matters:
    // ask the Jupyter server shortly after, at most once per STATUS_DEBOUNCE_MS,
    // so a class-server outage shows at the student's next run, not only on
    // the slow poll. The request is local and tiny.
    let statusPending = false;
    const onBatcherState = () => {
      refresh();
      if (!statusPending) {
        statusPending = true;
        setTimeout(() => {
          statusPending = false;
          void pollStatus();
        }, STATUS_DEBOUNCE_MS);
      }
    };
    const batcher = new EventBatcher(
      queue,
      sender,
      {
        flushIntervalMs: settings.flushIntervalMs,
        maxBatchEvents: settings.maxBatchEvents,
        backoff: { initialMs: 1000, maxMs: 60000 }
      },
      onBatcherState
    );

    // Both sides must agree: the student's setting and the Jupyter server's
    // configuration (CELL_MONITOR_ENABLED). While the server extension does
    // not answer, the setting decides and events wait in the browser queue.
    const isEnabled = () => settings.enabled && serverStatus?.enabled !== false;
    const emit = (eventType: string, fields: Partial<IMonitorEvent>) => {
      if (isEnabled()) {
        batcher.add(makeEvent(eventType, settings, sessionId, fields));
      }
    };

    new NotebookCapture(tracker, emit);
    app.docRegistry.addWidgetExtension(
      'Notebook',
      new HelpButtonExtension(
        (panel: NotebookPanel, requested: boolean) =>
          emit(requested ? 'help' : 'help_stop', {
            notebookPath: panel.context.path
          }),
        isEnabled,
        storage
      )
    );
    if (statusBar) {
      statusBar.registerStatusItem('cell-monitor:status', {
        item: indicator,
        align: 'left',
        rank: 1000
      });
    }

    const adoptLeftovers = () => {
      queue.heartbeat();
      if (queue.adoptOrphans() > 0 && isEnabled()) {
        batcher.flushSoon();
      }
    };
    // Not awaited: JupyterLab waits for plugins to activate, and a slow
    // Jupyter server must not delay the student's workspace.
    void pollStatus().finally(() => {
      adoptLeftovers();
      if (isEnabled()) {
        batcher.flushSoon();
      }
    });
    setInterval(adoptLeftovers, HEARTBEAT_MS);
    setInterval(() => void pollStatus(), STATUS_POLL_MS);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden' && isEnabled()) {
        batcher.flushSoon();
      }
    });
    // A page that goes away hands its unsent events to the next one at once
    // (they are already in localStorage; this only skips the stale timeout).
    window.addEventListener('pagehide', () => queue.release());
  }
};

export default plugin;
