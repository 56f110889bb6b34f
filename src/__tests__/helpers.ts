import { IMonitorEvent } from '../events';
import { IKeyValueStorage } from '../queue';

/** localStorage stand-in; `failWrites` simulates a full or disabled storage. */
export class MemoryStorage implements IKeyValueStorage {
  failWrites = false;
  readonly data = new Map<string, string>();

  get length(): number {
    return this.data.size;
  }
  key(index: number): string | null {
    return Array.from(this.data.keys())[index] ?? null;
  }
  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    if (this.failWrites) {
      throw new Error('QuotaExceededError');
    }
    this.data.set(key, value);
  }
  removeItem(key: string): void {
    this.data.delete(key);
  }
}

let counter = 0;

export function fakeEvent(fields: Partial<IMonitorEvent> = {}): IMonitorEvent {
  counter++;
  return {
    eventId: `event-${counter}`,
    eventType: 'cell_executed',
    eventTime: new Date(0).toISOString(),
    ...fields
  };
}
