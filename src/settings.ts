/** The extension's settings (schema/plugin.json), read into one typed object. */

import { ISettingRegistry } from '@jupyterlab/settingregistry';

export interface IMonitorSettings {
  enabled: boolean;
  emailAddress: string;
  userName: string;
  teamName: string;
  serverUrl: string;
  ingestToken: string;
  flushIntervalMs: number;
  maxBatchEvents: number;
  maxPendingEvents: number;
  /**
   * True once the student accepted the data notice (noticeDialog.ts). Where
   * the operator requires consent, nothing is captured or sent before.
   */
  noticeAcknowledged: boolean;
  /** The cell tag that marks plain test cells (testCells.ts); '' for none. */
  testTag: string;
  /** Edits not taken along by a run are reported after this long (engagement.ts). */
  engagementReportMs: number;
}

export const DEFAULT_SETTINGS: IMonitorSettings = {
  enabled: true,
  emailAddress: '',
  userName: '',
  teamName: '',
  serverUrl: '',
  ingestToken: '',
  flushIntervalMs: 1500,
  maxBatchEvents: 50,
  maxPendingEvents: 5000,
  noticeAcknowledged: false,
  testTag: 'test',
  engagementReportMs: 120000
};

/** Typed settings; a value of the wrong type falls back to its default. */
export function readSettings(
  settings: ISettingRegistry.ISettings | null
): IMonitorSettings {
  const result = { ...DEFAULT_SETTINGS } as Record<string, unknown>;
  if (settings) {
    for (const [name, fallback] of Object.entries(DEFAULT_SETTINGS)) {
      const value = settings.get(name).composite;
      if (typeof value === typeof fallback) {
        result[name] = typeof value === 'string' ? value.trim() : value;
      }
    }
  }
  return result as unknown as IMonitorSettings;
}
