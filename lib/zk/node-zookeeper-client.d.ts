// The package ships no types and @types/node-zookeeper-client is partly wrong: lib/zk/native.ts
// gives the narrow typed view this SDK relies on.
declare module 'node-zookeeper-client' {
  const zookeeper: unknown;
  export default zookeeper;
}
