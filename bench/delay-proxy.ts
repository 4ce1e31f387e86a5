// A TCP proxy that delays every chunk by `delayMs` in each direction (default 1 ms: 2 ms added RTT),
// preserving order. TCP_NODELAY on both sockets.
//
// Node's timers have 1 ms granularity (a 1 ms setTimeout fires 1-2 ms later), too coarse for a
// 1 ms delay. So a worker thread keeps time: it sleeps in Atomics.wait (futex, sub-ms precision)
// until the earliest chunk is due and then wakes the event loop, which forwards every chunk due
// by then (within TOLERANCE_MS). Nothing spins. The benchmark reports the RTT it measured through
// the proxy.
//
// Run as a process (so it does not share an event loop with the client being measured):
//   node --import tsx bench/delay-proxy.ts <upstream host:port> [delayMs]
// prints {"port":N} and forwards until stdin closes.
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const TOLERANCE_MS = 0.05;

/** Monotonic ms, the same clock in every thread (CLOCK_MONOTONIC). */
const clock = (): number => Number(process.hrtime.bigint()) / 1e6;

// The timekeeper. shared[0]: generation (bumped by the main thread whenever `due` changes);
// due[1]: earliest due time in clock() ms (0: nothing pending). Posts a message when due.
const TIMEKEEPER = `
const { parentPort, workerData } = require('node:worker_threads');
const gen = new Int32Array(workerData, 0, 1);
const due = new Float64Array(workerData, 8, 1);
const clock = () => Number(process.hrtime.bigint()) / 1e6;
let ticked = -1;
for (;;) {
  const g = Atomics.load(gen, 0);
  const d = due[0];
  if (!(d > 0) || d === ticked) { Atomics.wait(gen, 0, g); continue; }
  const remaining = d - clock();
  if (remaining > ${TOLERANCE_MS}) { Atomics.wait(gen, 0, g, remaining); continue; }
  ticked = d;
  parentPort.postMessage(0);
}
`;

class Scheduler {
  private readonly buffer = new SharedArrayBuffer(16);
  private readonly generation = new Int32Array(this.buffer, 0, 1);
  private readonly due = new Float64Array(this.buffer, 8, 1);
  private readonly pipes = new Set<DelayedPipe>();
  private readonly worker: Worker;

  constructor() {
    this.worker = new Worker(TIMEKEEPER, { eval: true, workerData: this.buffer });
    this.worker.on('message', () => this.tick());
    this.worker.unref();
  }

  pending(pipe: DelayedPipe): void {
    this.pipes.add(pipe);
    this.publish();
  }

  forget(pipe: DelayedPipe): void {
    this.pipes.delete(pipe);
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private tick(): void {
    const t = clock() + TOLERANCE_MS;
    for (const pipe of this.pipes) if (!pipe.drain(t)) this.pipes.delete(pipe);
    this.publish();
  }

  private publish(): void {
    let earliest = 0;
    for (const pipe of this.pipes) {
      const head = pipe.headDue();
      if (head !== undefined && (earliest === 0 || head < earliest)) earliest = head;
    }
    this.due[0] = earliest;
    Atomics.add(this.generation, 0, 1);
    Atomics.notify(this.generation, 0);
  }
}

/** One direction of one connection: chunks leave in arrival order, each `delayMs` after it came. */
class DelayedPipe {
  private readonly queue: Array<{ due: number; chunk: Buffer }> = [];

  constructor(
    private readonly scheduler: Scheduler,
    private readonly to: net.Socket,
    private readonly delayMs: number,
  ) {}

  push(chunk: Buffer): void {
    this.queue.push({ due: clock() + this.delayMs, chunk });
    if (this.queue.length === 1) this.scheduler.pending(this);
  }

  headDue(): number | undefined {
    return this.queue[0]?.due;
  }

  /** Writes every chunk due by `t`; false once the queue is empty. */
  drain(t: number): boolean {
    let head = this.queue[0];
    while (head && head.due <= t) {
      this.queue.shift();
      if (!this.to.destroyed) this.to.write(head.chunk);
      head = this.queue[0];
    }
    return this.queue.length > 0;
  }

  stop(): void {
    this.queue.length = 0;
    this.scheduler.forget(this);
  }
}

export interface DelayProxy {
  port: number;
  close(): Promise<void>;
}

export async function startDelayProxy(upstream: string, delayMs = 1): Promise<DelayProxy> {
  const [host = '127.0.0.1', port = '2181'] = upstream.split(':');
  const scheduler = new Scheduler();
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true } as net.ServerOpts, (client) => {
    client.setNoDelay(true);
    const server = net.connect({ host, port: Number(port) });
    server.setNoDelay(true);
    sockets.add(client);
    sockets.add(server);
    const toServer = new DelayedPipe(scheduler, server, delayMs);
    const toClient = new DelayedPipe(scheduler, client, delayMs);
    client.on('data', (chunk: Buffer) => toServer.push(chunk));
    server.on('data', (chunk: Buffer) => toClient.push(chunk));
    const close = (): void => {
      toServer.stop();
      toClient.stop();
      client.destroy();
      server.destroy();
      sockets.delete(client);
      sockets.delete(server);
    };
    client.on('close', close);
    server.on('close', close);
    client.on('error', () => undefined);
    server.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await scheduler.close();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [upstream = '127.0.0.1:2181', delay = '1'] = process.argv.slice(2);
  const proxy = await startDelayProxy(upstream, Number(delay));
  process.stdout.write(`${JSON.stringify({ port: proxy.port })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void proxy.close().then(() => process.exit(0));
  });
}
