/**
 * Expires a live session at once (Curator's KillSession trick): a second client joins the
 * session with its id and password, then closes it. The server deletes the session's ephemeral
 * nodes; the original client is disconnected when the second one takes the session over.
 *
 * The trick can lose a race: if the original client reconnects between the join and the close,
 * the server hands the session back to it and drops the joining client before the close is
 * processed. So this waits until the original client has seen the expiry, and tries again when
 * it instead reconnected to the same session.
 */
import { native } from '../../lib/zk/native.js';
import type { ZkSession } from '../../lib/zk/zk-session.js';
import { waitFor } from './wait.js';

/** Joins the session and closes it; resolves once the server dropped the joining connection. */
async function joinAndClose(connectString: string, session: ZkSession, timeoutMs: number): Promise<void> {
  const client = native.createClient(connectString, {
    sessionId: session.client.getSessionId(),
    sessionPassword: session.client.getSessionPassword(),
    sessionTimeout: session.timeoutMs,
    spinDelay: 1000,
    retries: 0,
  });
  let closing = false;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('could not join the session')), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      client.on('state', (state) => {
        if (state.name === 'EXPIRED') {
          done(); // Already gone: nothing left to close.
        } else if (state.name === 'SYNC_CONNECTED' && !closing) {
          closing = true;
          client.close();
        } else if (state.name === 'DISCONNECTED' && closing) {
          // The server answers CLOSE_SESSION (or a takeover by the original client) by closing the socket.
          done();
        }
      });
      client.connect();
    });
  } finally {
    if (!closing) client.close();
    client.connectionManager.socket?.destroy();
  }
}

export async function killSession(
  connectString: string,
  session: ZkSession,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; session.ended === undefined; attempt += 1) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`session ${session.sessionId} survived ${attempt - 1} kill attempts`);
    const startedAt = performance.now();
    await joinAndClose(connectString, session, remaining);
    // Expired: the original client saw it on reconnecting. Connected again since the attempt
    // began: it took the session back before the close, so the session lives on; try again.
    await waitFor(
      () => session.ended !== undefined || (session.isConnected && session.lastTransitionTime > startedAt),
      { timeoutMs: Math.max(1, deadline - Date.now()), intervalMs: 10, message: 'the victim never noticed' },
    );
  }
}
