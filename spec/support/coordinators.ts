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

/** Resolves with the event's first argument the next time `event` fires. */
export function nextEvent<T = unknown>(emitter: Emitter, event: string): Promise<T> {
  return new Promise((resolve) => (emitter as LooseEmitter).once(event, (arg) => resolve(arg as T)));
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
