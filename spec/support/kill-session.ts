/**
 * Expires a live session at once (Curator's KillSession trick): a second client joins the
 * session with its id and password, then closes it. The server deletes the session's ephemeral
 * nodes; the original client is disconnected when the second one takes the session over.
 */
import zookeeper from 'node-zookeeper-client';
import type { ZkSession } from '../../lib/zk/zk-session.js';

interface JoiningClient {
  connect(): void;
  close(): void;
  once(event: 'connected' | 'disconnected', listener: () => void): void;
  connectionManager: { socket?: { destroy(): void } };
}

const native = zookeeper as unknown as {
  createClient(
    connect: string,
    options: { sessionId: Buffer; sessionPassword: Buffer; sessionTimeout: number },
  ): JoiningClient;
};

export async function killSession(
  connectString: string,
  session: ZkSession,
  timeoutMs = 10_000,
): Promise<void> {
  const client = native.createClient(connectString, {
    sessionId: session.client.getSessionId(),
    sessionPassword: session.client.getSessionPassword(),
    sessionTimeout: session.timeoutMs,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('could not join the session')), timeoutMs);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  // The server answers CLOSE_SESSION by closing the socket: then the session is gone.
  const closed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the session was not closed')), timeoutMs);
    client.once('disconnected', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  client.close();
  try {
    await closed;
  } finally {
    client.connectionManager.socket?.destroy();
  }
}
