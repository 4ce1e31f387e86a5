/**
 * Sends the requests queued in one tick in one write.
 *
 * node-zookeeper-client writes every request to the socket as it is queued: one syscall per
 * request, which is most of its CPU when many requests are pipelined (an acquire of many locks at
 * once). Before each request is written, the socket is corked until the end of the tick, so Node
 * hands the tick's requests to the kernel together (writev). Order and content are unchanged;
 * only the number of writes drops.
 */
interface Corkable {
  cork(): void;
  uncork(): void;
  destroyed?: boolean;
}

interface BatchedManager {
  socket: unknown;
  packetQueue: { prependListener(event: 'readable', listener: () => void): unknown };
}

export function batchWrites(manager: BatchedManager): void {
  let corked: Corkable | undefined;
  // Runs before the client's own 'readable' listener, which writes the queued requests.
  manager.packetQueue.prependListener('readable', () => {
    const socket = manager.socket as Corkable | undefined;
    if (!socket || corked === socket || typeof socket.cork !== 'function' || socket.destroyed) return;
    corked = socket;
    socket.cork();
    process.nextTick(() => {
      corked = undefined;
      socket.uncork();
    });
  });
}
