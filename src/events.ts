/**
 * Events as the extension builds them (DESIGN.md, "Wire contract"; the type is
 * generated from the server's contract) and the helpers that build them.
 */

import type { EventIn } from './wire.gen';

/**
 * An event as this extension sends it: the contract's EventIn (generated in
 * wire.gen.ts), with the id and time it always sets, and the kernel's name,
 * which the server keeps as metadata outside the contract.
 */
export type IMonitorEvent = EventIn & {
  eventId: string;
  eventTime: string;
  kernelName?: string;
};

/** The student's self-declared identity (replaced by the hub user on JupyterHub). */
export interface IIdentity {
  emailAddress: string;
  userName: string;
  teamName: string;
}

/**
 * Character limits applied in the browser, so that a cell printing megabytes
 * never turns into a megabyte event. The class server truncates again with its
 * own limits; these only keep the student's machine and network light.
 */
export const LIMITS = {
  code: 20000,
  result: 1000,
  errorMessage: 2000,
  traceback: 4000
};

const ELLIPSIS = '…';

/** Keep the beginning of `text` (code, output: what comes first matters most). */
export function truncateHead(text: string, max: number): string {
  if (text.length <= max) {
    return text;
  }
  return text.slice(0, Math.max(0, max - ELLIPSIS.length)) + ELLIPSIS;
}

/** Keep the end of `text` (a traceback: the innermost frames matter most). */
export function truncateTail(text: string, max: number): string {
  if (text.length <= max) {
    return text;
  }
  return (
    ELLIPSIS + text.slice(text.length - Math.max(0, max - ELLIPSIS.length))
  );
}

/** A random UUID v4: the idempotency key that makes retries harmless. */
export function newEventId(): string {
  const webCrypto = globalThis.crypto;
  if (webCrypto && typeof webCrypto.randomUUID === 'function') {
    return webCrypto.randomUUID();
  }
  // randomUUID needs a secure context (https or localhost); JupyterLab served
  // over plain http on a LAN address is not one, getRandomValues still works.
  const bytes = new Uint8Array(16);
  webCrypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20)
  ].join('-');
}

/** A new event of `eventType`, stamped with a fresh id, the time and the identity. */
export function makeEvent(
  eventType: string,
  identity: IIdentity,
  sessionId: string,
  fields: Partial<IMonitorEvent> = {}
): IMonitorEvent {
  const event: IMonitorEvent = {
    eventId: newEventId(),
    eventType,
    eventTime: new Date().toISOString(),
    sessionId,
    ...fields
  };
  // Unset settings are left out rather than sent as "" (the server treats
  // both the same; absent is smaller and clearer in the stored metadata).
  if (identity.emailAddress) {
    event.emailAddress = identity.emailAddress;
  }
  if (identity.userName) {
    event.userName = identity.userName;
  }
  if (identity.teamName) {
    event.teamName = identity.teamName;
  }
  return event;
}
