import createDebug from 'debug';

/** debug namespaces: `zk-leader-selector:<area>`; the library never prints by itself. */
export function logger(area: string): createDebug.Debugger {
  return createDebug(`zk-leader-selector:${area}`);
}
