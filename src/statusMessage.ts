/**
 * What the status indicator says, if anything (pure, so it is unit tested):
 * nothing while all is well; a short warning naming the cause when events
 * cannot get through. Configuration errors (a refused token, a URL that is not
 * a cell-monitor server) show at once; an outage only after warnAfterSeconds,
 * since a short one is ridden out without anybody noticing.
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
  const cause = causeMessage(server);
  if (server.queueFull) {
    return (
      `Cell Monitor: the queue on the Jupyter server is full (${events(server.queueLength)}), ` +
      `new events wait in this browser${cause ? `; ${cause}` : ''}`
    );
  }
  return cause ? `Cell Monitor: ${cause}` : '';
}

/** The delivery problem worth telling the student about now, or ''. */
function causeMessage(server: LabStatus): string {
  const saved = `${events(server.queueLength)} saved`;
  const down = server.unreachableSeconds;
  const longDown = down !== null && down >= server.warnAfterSeconds;
  switch (server.state) {
    case 'refused':
      return `the class server refused the ingest token (ask your instructor to check it), ${saved}`;
    case 'wrong_url':
      return `${server.serverUrl ?? 'the configured URL'} is not a cell-monitor class server (check the URL), ${saved}`;
    case 'internal_error':
      return `delivery stopped by an error in the Jupyter server (see its log), ${saved}`;
    case 'server_error':
      return longDown
        ? `the class server has been failing for ${formatDuration(down)}, ${saved} and sent when it recovers`
        : '';
    default:
      // 'unreachable', or an older server extension that does not say.
      return longDown
        ? `class server unreachable for ${formatDuration(down)}, ${saved} and sent when it is back`
        : '';
  }
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
