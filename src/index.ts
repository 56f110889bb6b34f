/**
 * The cell-monitor JupyterLab extension: wires settings, capture, the help
 * button and the status indicator to the delivery side (monitor.ts).
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { NotebookCapture } from './capture';
import { DEFAULT_ENGAGEMENT } from './engagement';
import { EngagementCapture } from './engagementCapture';
import { HelpButtonExtension } from './helpButton';
import { HelpRequestState } from './helpState';
import { InboxClient } from './inbox';
import { MessagesUi } from './messagesUi';
import { Monitor } from './monitor';
import { noticeContent, shouldShowNotice } from './notice';
import { showNotice } from './noticeDialog';
import { IKeyValueStorage } from './queue';
import { IMonitorSettings, readSettings } from './settings';
import {
  serverExtensionAnnounce,
  serverExtensionInbox,
  serverExtensionMessages
} from './transport';

const PLUGIN_ID = 'cell-monitor:plugin';
const NOTICE_COMMAND = 'cell-monitor:show-notice';

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
  optional: [IStatusBar, ICommandPalette],
  activate: async (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    registry: ISettingRegistry,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null
  ) => {
    let settings: IMonitorSettings = readSettings(null);
    let monitor: Monitor | null = null;
    let loaded: ISettingRegistry.ISettings | null = null;
    try {
      loaded = await registry.load(PLUGIN_ID);
      settings = readSettings(loaded);
      loaded.changed.connect(changed => {
        settings = readSettings(changed);
        monitor?.refresh();
      });
    } catch (error) {
      console.warn('cell-monitor: settings unavailable, using defaults', error);
    }
    // Queue and batch sizes are read once here: changes apply after a reload.
    const storage = localStorageOrNull();
    monitor = new Monitor(() => settings, storage);

    const engagement = new EngagementCapture(
      app,
      tracker,
      fields => monitor.emit('engagement', { ...fields }),
      {
        ...DEFAULT_ENGAGEMENT,
        throttleMs: settings.engagementReportMs,
        // A shorter report interval (a demo, a test) shortens the glance too.
        glanceMs: Math.min(
          DEFAULT_ENGAGEMENT.glanceMs,
          settings.engagementReportMs
        )
      }
    );
    new NotebookCapture(tracker, (type, fields) => monitor.emit(type, fields), {
      testTag: () => settings.testTag,
      takeCell: (path, cellId) => engagement.engagement.takeCell(path, cellId)
    });
    // One long-poll of the student's inbox for this page: the help button (and
    // anything else addressed to the student) reads it.
    const inbox = new InboxClient(serverExtensionInbox());
    const help = new HelpRequestState(
      inbox,
      (type, fields) => monitor.emit(type, fields),
      storage
    );
    // Messages from the instructor: delivered by the inbox, answered on the
    // durable event path, the history read once per page.
    const messages = new MessagesUi(
      app,
      tracker,
      (type, fields) => monitor.emit(type, fields),
      storage,
      serverExtensionAnnounce()
    );
    inbox.subscribe(copy => messages.receive(copy.inbox?.messages ?? []));
    void serverExtensionMessages()().then(items => messages.receive(items));
    app.docRegistry.addWidgetExtension(
      'Notebook',
      // Without the consent an operator requires, the button must not pretend
      // that help was requested: nothing would be sent.
      new HelpButtonExtension(
        help,
        () => monitor.isEnabled() && monitor.consent() !== 'awaiting-consent'
      )
    );
    inbox.start();
    statusBar?.registerStatusItem('cell-monitor:status', {
      item: monitor.indicator,
      align: 'left',
      rank: 1000
    });
    const notice = async (): Promise<void> => {
      const content = noticeContent(settings, monitor.status);
      const accepted = await showNotice(content);
      if (accepted && loaded) {
        await loaded.set('noticeAcknowledged', true);
      }
    };
    monitor.onNoticeConfig = () => {
      if (shouldShowNotice(settings, monitor.noticeConfig)) {
        void notice();
      }
    };
    app.commands.addCommand(NOTICE_COMMAND, {
      label: 'Cell Monitor: What Is Collected (Data Notice)',
      execute: notice
    });
    palette?.addItem({ command: NOTICE_COMMAND, category: 'Cell Monitor' });
    monitor.start();
  }
};

export default plugin;
