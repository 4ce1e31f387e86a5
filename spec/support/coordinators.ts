/** Coordinators for tests, closed together at the end of a test file. */
import { Coordinator, type CoordinatorOptions } from '../../lib/index.js';

export class CoordinatorPool {
  private readonly all: Coordinator[] = [];

  async start(options: CoordinatorOptions): Promise<Coordinator> {
    const coordinator = this.create(options);
    await coordinator.start();
    return coordinator;
  }

  create(options: CoordinatorOptions): Coordinator {
    const coordinator = new Coordinator(options);
    this.all.push(coordinator);
    return coordinator;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((c) => c.close()));
  }
}

/** Any eventemitter3 emitter, whatever its event map. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Emitter = { on(event: any, listener: any): unknown; once(event: any, listener: any): unknown };
type LooseEmitter = {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
};

/**
 * Resolves with the event's first argument the next time `event` fires; rejects if it has not
 * fired within `timeoutMs`, so a test waiting on an event that never comes fails with its name
 * instead of hanging until the file's timeout.
 */
export function nextEvent<T = unknown>(emitter: Emitter, event: string, timeoutMs = 30_000): Promise<T> {
  const fired = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "${event}" event within ${timeoutMs} ms`)),
      timeoutMs,
    );
    (emitter as LooseEmitter).once(event, (arg) => {
      clearTimeout(timer);
      resolve(arg as T);
    });
  });
  // Taken as handled here: a test may await it only after other steps.
  fired.catch(() => undefined);
  return fired;
}

/** Records when events fire (Date.now()) and their order. */
export function recordEvents(
  emitter: Emitter,
  events: string[],
): { at: Record<string, number[]>; log: string[] } {
  const at: Record<string, number[]> = {};
  const log: string[] = [];
  for (const event of events) {
    at[event] = [];
    (emitter as LooseEmitter).on(event, () => {
      at[event]?.push(Date.now());
      log.push(event);
    });
  }
  return { at, log };
}
