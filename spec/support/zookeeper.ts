// Starts real ZooKeeper servers (standalone or ensemble) for tests, from the Debian `zookeeper` package.
//
// - Every cluster gets free loopback ports and its own temp dir (data, zoo.cfg, server.log per member).
// - Readiness is polled with the `srvr` four-letter word, never with sleeps.
// - JVMs die with the test process: a process 'exit' handler SIGKILLs them (covers uncaught exceptions),
//   and a tiny `sh` reaper holding a pipe from this process kills them when that pipe closes
//   (covers SIGKILL/SIGTERM of the test process too).
// - ZOOKEEPER_CONNECT_STRING set: no server is started; the cluster is `external` and fault methods throw.
//
// Environment: ZOOKEEPER_JAR (default /usr/share/java/zookeeper.jar), JAVA_HOME, ZK_HARNESS_KEEP=1 keeps
// the temp dirs (logs) after close(), ZK_HARNESS_LOG_LEVEL (slf4j-simple level, default info).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findExecutable } from './executables.js';
import { tlsServerConfig, type TestCertificates } from './tls-certs.js';
import { setTimeout as delay } from 'node:timers/promises';

export interface ZooKeeperOptions {
  /** Default 200. */
  tickTime?: number;
  /** Default 1000. */
  minSessionTimeout?: number;
  /** Default 60000. */
  maxSessionTimeout?: number;
  /** Extra zoo.cfg lines; they override the harness defaults. */
  extraConfig?: Record<string, string>;
  /**
   * Java system properties of every member (for settings zoo.cfg cannot carry, e.g.
   * `znode.container.checkIntervalMs`: how often the server deletes empty CONTAINER nodes).
   */
  systemProperties?: Record<string, string>;
  /** Also serve a TLS port (secureClientPort) with these certificates, client certificates required. */
  tls?: TestCertificates;
}

export interface ZooKeeperMember {
  readonly id: number;
  readonly clientPort: number;
  /** '127.0.0.1:port' */
  readonly connectString: string;
  /** The TLS port (0: none). */
  readonly securePort: number;
  /** '127.0.0.1:securePort' (only with the tls option). */
  readonly secureConnectString: string;
  readonly running: boolean;
}

const ZOOKEEPER_JAR = process.env.ZOOKEEPER_JAR ?? '/usr/share/java/zookeeper.jar';
const SLF4J_SIMPLE_JAR = path.join(path.dirname(ZOOKEEPER_JAR), 'slf4j-simple.jar');
// zookeeper.jar's manifest lacks these, which NettyServerCnxnFactory needs.
const NETTY_JARS = ['netty-codec.jar', 'netty-resolver.jar', 'netty-transport-native-unix-common.jar'].map(
  (jar) => path.join(path.dirname(ZOOKEEPER_JAR), jar),
);
const nettyAvailable = (): boolean => NETTY_JARS.every((jar) => existsSync(jar));
const READY_TIMEOUT_MS = 30_000;
const STOP_ESCALATE_MS = 10_000;
const MAIN_CLASS = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';

const findJava = (): string | undefined => findExecutable('java');

/** True when tests can get a ZooKeeper: an external one (ZOOKEEPER_CONNECT_STRING) or java + the jar. */
export function zooKeeperAvailable(): { ok: true } | { ok: false; reason: string } {
  if (process.env.ZOOKEEPER_CONNECT_STRING) return { ok: true };
  if (!findJava())
    return { ok: false, reason: 'java not found (JAVA_HOME or PATH); run scripts/install-zookeeper.sh' };
  if (!existsSync(ZOOKEEPER_JAR))
    return { ok: false, reason: `${ZOOKEEPER_JAR} missing; run scripts/install-zookeeper.sh` };
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------------
// Process bookkeeping: every live JVM, killed on exit; a reaper process for deaths 'exit' cannot see.

const liveJvms = new Set<ChildProcess>();
const liveClusters = new Set<ZooKeeperCluster>();
let reaper: ChildProcess | undefined;
let exitHandlerInstalled = false;

const REAPER_SCRIPT = `
pids=" "
while IFS= read -r l; do
  case "$l" in
    +*) pids="$pids\${l#+} " ;;
    -*) p="\${l#-}"; n=" "; for x in $pids; do [ "$x" = "$p" ] || n="$n$x "; done; pids="$n" ;;
  esac
done
for x in $pids; do kill -9 "$x" 2>/dev/null; done
`;

function tellReaper(line: string): void {
  if (!reaper) {
    reaper = spawn('sh', ['-c', REAPER_SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'] });
    reaper.on('error', () => undefined);
    reaper.stdin?.on('error', () => undefined);
    reaper.unref();
    (reaper.stdin as unknown as net.Socket | null)?.unref?.();
  }
  if (reaper.stdin && !reaper.stdin.destroyed) reaper.stdin.write(`${line}\n`);
}

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const jvm of liveJvms) {
      try {
        jvm.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const cluster of liveClusters) cluster.removeDirSync();
  });
}

// ---------------------------------------------------------------------------------------------------

/** Binds port 0 on 127.0.0.1 `count` times (all held open at once, so distinct), then closes them. */
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** Sends a four-letter word and returns the whole answer (the server closes the socket when done). */
function sendFourLetterWord(host: string, port: number, word: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${word} to ${host}:${port}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${word} to ${host}:${port}: ${error.message}`));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

function parseHostPort(hostPort: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(hostPort.trim());
  if (!match) return { host: hostPort.trim(), port: 2181 };
  return { host: match[1] ?? '127.0.0.1', port: Number(match[2]) };
}

function modeOf(srvr: string): string | undefined {
  return /^Mode: (\S+)/m.exec(srvr)?.[1];
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

class Member implements ZooKeeperMember {
  process: ChildProcess | undefined;
  exited: Promise<void> = Promise.resolve();

  constructor(
    readonly id: number,
    readonly host: string,
    readonly clientPort: number,
    readonly dir: string,
    readonly peerPort: number,
    readonly electionPort: number,
  ) {}

  /** The TLS port (0: none). */
  securePort = 0;
  /** `-Dkey=value` flags of this member's JVM (ZooKeeperOptions.systemProperties). */
  systemProperties: string[] = [];

  get connectString(): string {
    return `${this.host}:${this.clientPort}`;
  }
  get secureConnectString(): string {
    return `${this.host}:${this.securePort}`;
  }
  get running(): boolean {
    return this.process !== undefined;
  }
  get configFile(): string {
    return path.join(this.dir, 'zoo.cfg');
  }
  get logFile(): string {
    return path.join(this.dir, 'server.log');
  }
}

export class ZooKeeperCluster {
  readonly connectString: string;
  readonly members: readonly ZooKeeperMember[];
  readonly external: boolean;
  private readonly internalMembers: Member[];
  private closed = false;
  private dirRemoved = false;

  private constructor(
    members: Member[],
    external: boolean,
    private readonly dir: string | undefined,
    private readonly ensemble: boolean,
    connectString?: string,
  ) {
    this.internalMembers = members;
    this.members = members;
    this.external = external;
    this.connectString = connectString ?? members.map((m) => m.connectString).join(',');
  }

  /** Connect string of the members' TLS ports (only with the tls option). */
  get secureConnectString(): string {
    return this.internalMembers.map((m) => m.secureConnectString).join(',');
  }

  static startStandalone(options: ZooKeeperOptions = {}): Promise<ZooKeeperCluster> {
    return ZooKeeperCluster.launch(1, false, options);
  }

  static async startEnsemble(size = 3, options: ZooKeeperOptions = {}): Promise<ZooKeeperCluster> {
    if (!Number.isInteger(size) || size < 1) {
      throw new Error(`ensemble size must be a positive integer, got ${size}`);
    }
    return ZooKeeperCluster.launch(size, true, options);
  }

  private static async launch(
    size: number,
    ensemble: boolean,
    options: ZooKeeperOptions,
  ): Promise<ZooKeeperCluster> {
    const externalConnect = process.env.ZOOKEEPER_CONNECT_STRING;
    if (externalConnect) {
      const members = externalConnect
        .split('/')[0]!
        .split(',')
        .map((hostPort, index) => {
          const { host, port } = parseHostPort(hostPort);
          const member = new Member(index + 1, host, port, '', 0, 0);
          Object.defineProperty(member, 'running', { get: () => true });
          return member;
        });
      return new ZooKeeperCluster(members, true, undefined, members.length > 1, externalConnect);
    }
    const available = zooKeeperAvailable();
    if (!available.ok) throw new Error(`ZooKeeper not available: ${available.reason}`);
    // A port picked free may be taken by someone else before the JVM binds it: retry with new ports.
    for (let attempt = 1; ; attempt++) {
      const cluster = await ZooKeeperCluster.create(size, ensemble, options);
      try {
        await Promise.all(cluster.internalMembers.map((m) => cluster.spawnMember(m)));
        await Promise.all(cluster.internalMembers.map((m) => cluster.waitServing(m)));
        return cluster;
      } catch (error) {
        const bindFailure = cluster.internalMembers.some((m) =>
          /BindException|Address already in use/.test(tail(m.logFile, 200)),
        );
        await cluster.close();
        if (!bindFailure || attempt >= 3) throw error;
      }
    }
  }

  private static async create(
    size: number,
    ensemble: boolean,
    options: ZooKeeperOptions,
  ): Promise<ZooKeeperCluster> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zk-harness-'));
    const plainCount = ensemble ? size * 3 : 1;
    const ports = await freePorts(plainCount + (options.tls ? size : 0));
    const securePorts = ports.slice(plainCount);
    const members: Member[] = [];
    for (let i = 0; i < size; i++) {
      const id = i + 1;
      members.push(
        new Member(
          id,
          '127.0.0.1',
          ports[i * (ensemble ? 3 : 1)]!,
          path.join(dir, `m${id}`),
          ensemble ? ports[i * 3 + 1]! : 0,
          ensemble ? ports[i * 3 + 2]! : 0,
        ),
      );
    }
    const cluster = new ZooKeeperCluster(members, false, dir, ensemble);
    liveClusters.add(cluster);
    installExitHandler();
    for (const member of members) {
      const dataDir = path.join(member.dir, 'data');
      mkdirSync(dataDir, { recursive: true });
      const config: Record<string, string> = {
        tickTime: String(options.tickTime ?? 200),
        initLimit: '10',
        syncLimit: '5',
        dataDir,
        minSessionTimeout: String(options.minSessionTimeout ?? 1000),
        maxSessionTimeout: String(options.maxSessionTimeout ?? 60000),
        maxClientCnxns: '0',
        'admin.enableServer': 'false',
        '4lw.commands.whitelist': '*',
        // Tests don't survive machine crashes anyway; writes still reach the page cache before acks,
        // so a SIGKILLed server keeps its data.
        forceSync: 'no',
        preAllocSize: '1024',
        'snapshot.trust.empty': 'true',
      };
      // ZooKeeper 3.8.0's NIO factory accepts clients before a standalone server has loaded its database;
      // a client connecting in that window hits an NPE and hangs until its connect timeout (seen: 1 restart
      // in 3 with a reconnecting client). The Netty factory does not have this window.
      if (nettyAvailable()) config.serverCnxnFactory = 'org.apache.zookeeper.server.NettyServerCnxnFactory';
      if (ensemble) {
        writeFileSync(path.join(dataDir, 'myid'), `${member.id}\n`);
        for (const m of members)
          config[`server.${m.id}`] = `127.0.0.1:${m.peerPort}:${m.electionPort};127.0.0.1:${m.clientPort}`;
        if (size === 1) config.standaloneEnabled = 'false';
      } else {
        config.clientPort = String(member.clientPort);
        config.clientPortAddress = '127.0.0.1';
      }
      if (options.tls) {
        member.securePort = securePorts[member.id - 1]!;
        Object.assign(config, tlsServerConfig(options.tls, member.securePort));
      }
      Object.assign(config, options.extraConfig ?? {});
      member.systemProperties = Object.entries(options.systemProperties ?? {}).map(([k, v]) => `-D${k}=${v}`);
      writeFileSync(
        member.configFile,
        Object.entries(config)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
      );
    }
    return cluster;
  }

  private member(memberId: number): Member {
    const member = this.internalMembers.find((m) => m.id === memberId);
    if (!member)
      throw new Error(`no member ${memberId} (members: ${this.internalMembers.map((m) => m.id).join(', ')})`);
    return member;
  }

  private assertControllable(what: string): void {
    if (this.external) {
      throw new Error(
        `ZooKeeperCluster.${what}: not possible on an external ZooKeeper (ZOOKEEPER_CONNECT_STRING is set); check cluster.external and skip`,
      );
    }
    if (this.closed) throw new Error(`ZooKeeperCluster.${what}: cluster is closed`);
  }

  private spawnMember(member: Member): void {
    if (member.process) return;
    const classpath = [
      ZOOKEEPER_JAR,
      ...(nettyAvailable() ? NETTY_JARS : []),
      ...(existsSync(SLF4J_SIMPLE_JAR) ? [SLF4J_SIMPLE_JAR] : []),
    ].join(path.delimiter);
    const logFd = openSync(member.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        findJava() ?? 'java',
        [
          '-Xmx256m',
          '-Xms32m',
          '-Xss512k',
          '-XX:+UseSerialGC',
          '-XX:TieredStopAtLevel=1',
          '-Xshare:auto',
          '-XX:-UsePerfData',
          '-XX:+ExitOnOutOfMemoryError',
          '-Djava.net.preferIPv4Stack=true',
          `-Dzookeeper.log.dir=${member.dir}`,
          `-Dorg.slf4j.simpleLogger.defaultLogLevel=${process.env.ZK_HARNESS_LOG_LEVEL ?? 'info'}`,
          '-Dorg.slf4j.simpleLogger.showDateTime=true',
          '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
          '-Dorg.slf4j.simpleLogger.logFile=System.out',
          ...member.systemProperties,
          '-cp',
          classpath,
          MAIN_CLASS,
          member.configFile,
        ],
        { stdio: ['ignore', logFd, logFd], cwd: member.dir },
      );
    } finally {
      closeSync(logFd);
    }
    member.process = child;
    liveJvms.add(child);
    child.unref(); // a forgotten cluster must not keep the test process alive; 'exit' kills it
    const pid = child.pid;
    if (pid !== undefined) tellReaper(`+${pid}`);
    member.exited = new Promise<void>((resolve) => {
      const done = () => {
        liveJvms.delete(child);
        if (pid !== undefined) tellReaper(`-${pid}`);
        if (member.process === child) member.process = undefined;
        resolve();
      };
      child.once('exit', done);
      child.once('error', (error) => {
        writeFileSync(member.logFile, `spawn failed: ${error.message}\n`, { flag: 'a' });
        done();
      });
    });
  }

  private async waitServing(member: Member): Promise<void> {
    const child = member.process;
    if (!child) throw new Error(`member ${member.id} is not running`);
    const started = Date.now();
    const wanted = this.ensemble ? ['leader', 'follower'] : ['standalone'];
    child.ref(); // keep the loop alive while we wait on it
    try {
      let last = '';
      while (Date.now() - started < READY_TIMEOUT_MS) {
        if (member.process !== child) {
          throw new Error(
            `ZooKeeper member ${member.id} exited during startup; log tail (${member.logFile}):\n${tail(member.logFile)}`,
          );
        }
        try {
          const answer = await sendFourLetterWord(member.host, member.clientPort, 'srvr', 1_000);
          const mode = modeOf(answer);
          if (mode && wanted.includes(mode)) return;
          last = answer.trim().split('\n')[0] ?? '';
        } catch (error) {
          last = (error as Error).message;
        }
        await delay(50);
      }
      throw new Error(
        `ZooKeeper member ${member.id} (port ${member.clientPort}) not serving after ${READY_TIMEOUT_MS} ms (last srvr: ${last}); log tail (${member.logFile}):\n${tail(member.logFile)}`,
      );
    } finally {
      child.unref();
    }
  }

  /** Stops one member; resolves when its JVM has exited. Default signal SIGKILL (a crash); SIGTERM escalates to SIGKILL after 10 s. */
  async stop(memberId: number, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    this.assertControllable('stop');
    await this.stopMember(this.member(memberId), signal);
  }

  private async stopMember(member: Member, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = member.process;
    if (!child) return;
    child.ref();
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    if (signal !== 'SIGKILL') timer = setTimeout(() => child.kill('SIGKILL'), STOP_ESCALATE_MS);
    try {
      await member.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Starts a stopped member; resolves when it serves clients (ensemble: it has joined a quorum). */
  async start(memberId: number): Promise<void> {
    this.assertControllable('start');
    const member = this.member(memberId);
    this.spawnMember(member);
    await this.waitServing(member);
  }

  /** Stops every member (SIGKILL), starts them all again and waits until all serve. Data is kept. */
  async restart(): Promise<void> {
    this.assertControllable('restart');
    await Promise.all(this.internalMembers.map((m) => this.stopMember(m, 'SIGKILL')));
    for (const m of this.internalMembers) this.spawnMember(m);
    await Promise.all(this.internalMembers.map((m) => this.waitServing(m)));
  }

  /**
   * Stops every member, deletes their data (snapshots and transaction logs; an ensemble keeps
   * its myid) and starts them again: a ZooKeeper whose zxids start from zero.
   */
  async restartWiped(): Promise<void> {
    this.assertControllable('restartWiped');
    await Promise.all(this.internalMembers.map((m) => this.stopMember(m, 'SIGKILL')));
    for (const m of this.internalMembers)
      rmSync(path.join(m.dir, 'data', 'version-2'), { recursive: true, force: true });
    for (const m of this.internalMembers) this.spawnMember(m);
    await Promise.all(this.internalMembers.map((m) => this.waitServing(m)));
  }

  fourLetterWord(memberId: number, word: string): Promise<string> {
    const member = this.member(memberId);
    return sendFourLetterWord(member.host, member.clientPort, word);
  }

  /** The member whose `srvr` says Mode: leader (standalone: undefined). Unreachable members are skipped. */
  async leaderId(): Promise<number | undefined> {
    const modes = await Promise.all(
      this.internalMembers.map(async (m) => {
        if (!m.running) return undefined;
        try {
          return modeOf(await sendFourLetterWord(m.host, m.clientPort, 'srvr', 2_000));
        } catch {
          return undefined;
        }
      }),
    );
    const index = modes.indexOf('leader');
    return index >= 0 ? this.internalMembers[index]!.id : undefined;
  }

  /** The server log of a member (for diagnostics). */
  logFile(memberId: number): string {
    return this.member(memberId).logFile;
  }

  /** Kills every JVM and deletes the data dirs. Idempotent. */
  async close(): Promise<void> {
    if (this.closed || this.external) return;
    this.closed = true;
    await Promise.all(this.internalMembers.map((m) => this.stopMember(m, 'SIGKILL')));
    liveClusters.delete(this);
    if (this.dir && !process.env.ZK_HARNESS_KEEP && !this.dirRemoved) {
      this.dirRemoved = true;
      await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
    }
  }

  /** @internal used by the process 'exit' handler. */
  removeDirSync(): void {
    if (!this.dir || this.dirRemoved || process.env.ZK_HARNESS_KEEP) return;
    this.dirRemoved = true;
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // best effort
    }
  }
}
