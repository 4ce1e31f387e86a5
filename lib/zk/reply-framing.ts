/**
 * Hands node-zookeeper-client its replies one whole frame at a time.
 *
 * Its onSocketData parses one reply per call and keeps the rest of the chunk as a pending buffer,
 * which the next call (a recursion per reply) copies again with Buffer.concat: a chunk of n
 * replies costs O(n²) bytes copied, and most of the client's time under many pipelined requests
 * goes to that copying and its garbage. It also never drops that pending buffer when a socket
 * closes, so a reply cut off by a dropped connection would be glued to the first bytes of the
 * next connection. Here each socket's bytes are framed (4-byte length + body) before the client
 * sees them: every call gets exactly one reply (a zero-copy view), the client's own pending
 * buffer stays empty, and a partial frame never outlives its socket.
 */
interface FramedManager {
  socket: unknown;
  onSocketData(data: Buffer): void;
}

export function frameReplies(manager: FramedManager): void {
  const parse = manager.onSocketData.bind(manager);
  let pending: Buffer | undefined;
  let pendingSocket: unknown;
  manager.onSocketData = (chunk: Buffer): void => {
    // A new connection starts from its own first byte.
    if (manager.socket !== pendingSocket) {
      pending = undefined;
      pendingSocket = manager.socket;
    }
    const buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const end = offset + 4 + buffer.readInt32BE(offset);
      if (end > buffer.length) break;
      parse(buffer.subarray(offset, end));
      // The reply may have closed this socket (or the client): what follows is not ours to parse.
      if (manager.socket !== pendingSocket) return;
      offset = end;
    }
    // Copy the tail: a view would keep the whole chunk alive until the next one.
    if (offset < buffer.length) pending = Buffer.from(buffer.subarray(offset));
  };
}
