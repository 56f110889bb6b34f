/**
 * What the status indicator says, if anything (pure, so it is unit tested):
 * nothing while all is well; a short warning when events cannot get through.
 */

import { IBatcherState } from './batcher';
import type { LabStatus } from './wire.gen';

/** Browser-side failures in a row before the student is told. */
const BROWSER_FAILURES_BEFORE_WARNING = 3;

export interface IIndicatorInput {
  enabled: boolean;
  batcher: IBatcherState;
  /** Latest status of the server extension; null when it did not answer. */
  server: LabStatus | null;
  /** Consent is required and the student has not accepted the data notice. */
  awaitingConsent?: boolean;
}

/** The message to show, or '' for none (pure, so it can be unit tested). */
export function indicatorMessage(input: IIndicatorInput): string {
  if (!input.enabled) {
    return '';
  }
  if (input.awaitingConsent) {
    return 'Cell Monitor: not recording until you accept the data notice';
  }
  const { batcher, server } = input;
  if (batcher.failures >= BROWSER_FAILURES_BEFORE_WARNING) {
    return `Cell Monitor: cannot reach the cell_monitor server extension, ${events(batcher.pending)} waiting`;
  }
  if (!server) {
    return '';
  }
  if (!server.configured) {
    return 'Cell Monitor: no class server configured';
  }
  const down = server.unreachableSeconds;
  if (down !== null && down >= server.warnAfterSeconds) {
    return (
      `Cell Monitor: class server unreachable for ${formatDuration(down)}, ` +
      `${events(server.queueLength)} saved and sent when it is back`
    );
  }
  return '';
}

function events(count: number): string {
  return count === 1 ? '1 event' : `${count} events`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) {
    return `${Math.round(seconds)} s`;
  }
  if (seconds < 90 * 60) {
    return `${Math.round(seconds / 60)} min`;
  }
  return `${(seconds / 3600).toFixed(1)} h`;
}
