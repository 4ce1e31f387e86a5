// ZooKeeper's own record of a chaos run: the transaction logs (`<dataDir>/version-2/log.<zxid>`) of every
// ensemble member, read after the run. The token oracle (tokens.ts) checks the lock's fencing tokens
// against them: a source the lock's bookkeeping has no part in.
//
// Format (ZooKeeper 3.x FileTxnLog, jute BinaryOutputArchive, big-endian): a file header
// {int magic 'ZKLG', int version, long dbid}, then entries {long crc, int length, byte[length] txn,
// byte 'B'}; a length of 0 (the zero-filled preallocated tail) ends the file. A txn is a TxnHeader
// {long clientId, int cxid, long zxid, long time, int type} and the operation's record (a digest may
// follow, ignored). Ephemeral nodes of a closed or expired session go with its closeSession txn.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One change under the watched paths, as the server logged it. zxids and sessions as 16 hex digits. */
export type TxnRecord =
  | {
      op: 'create';
      zxid: string;
      /** Server wall-clock time of the txn, epoch ms. */
      time: number;
      path: string;
      data: string;
      /** Creating session (= ephemeralOwner for ephemeral nodes). */
      session: string;
      ephemeral: boolean;
    }
  | { op: 'delete'; zxid: string; time: number; path: string; session: string }
  | { op: 'closeSession'; zxid: string; time: number; session: string };

const MAGIC = 0x5a4b4c47; // 'ZKLG'
const OP = {
  create: 1,
  delete: 2,
  multi: 14,
  create2: 15,
  createContainer: 19,
  createTTL: 21,
  closeSession: -11,
} as const;

class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos = 0,
  ) {}
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new RangeError('truncated');
  }
  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  long(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  buffer(): Buffer {
    const n = this.int();
    if (n < 0) return Buffer.alloc(0);
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  string(): string {
    return this.buffer().toString('utf8');
  }
}

export const hex16 = (v: bigint): string => BigInt.asUintN(64, v).toString(16).padStart(16, '0');

/** Parses one operation record (create/delete; multi recursively) into `out`, keeping paths under `prefix`. */
function parseOp(
  type: number,
  r: Reader,
  head: { zxid: string; time: number; session: string },
  prefix: string,
  out: TxnRecord[],
): void {
  switch (type) {
    case OP.create:
    case OP.create2:
    case OP.createContainer:
    case OP.createTTL: {
      const path = r.string();
      const data = r.buffer().toString('utf8');
      const acls = r.int();
      for (let i = 0; i < acls; i += 1) {
        r.int();
        r.string();
        r.string();
      }
      // CreateTxn has the ephemeral flag here; CreateContainerTxn/CreateTTLTxn are never ephemeral.
      const ephemeral = type === OP.create || type === OP.create2 ? r.byte() !== 0 : false;
      if (path.startsWith(prefix)) out.push({ op: 'create', ...head, path, data, ephemeral });
      return;
    }
    case OP.delete: {
      const path = r.string();
      if (path.startsWith(prefix)) out.push({ op: 'delete', ...head, path });
      return;
    }
    case OP.multi: {
      const count = r.int();
      for (let i = 0; i < count; i += 1) {
        const subType = r.int();
        const sub = new Reader(r.buffer());
        parseOp(subType, sub, head, prefix, out);
      }
      return;
    }
    case OP.closeSession:
      out.push({ op: 'closeSession', ...head });
      return;
    default:
      return;
  }
}

/** The records of one log file (a torn or zero-filled tail ends it). */
export function parseTxnLog(file: Buffer, prefix: string): TxnRecord[] {
  const r = new Reader(file);
  if (r.remaining < 16 || r.int() !== MAGIC) return [];
  r.int(); // version
  r.long(); // dbid
  const out: TxnRecord[] = [];
  try {
    while (r.remaining > 12) {
      r.long(); // crc
      const txn = r.buffer();
      if (txn.length === 0) break;
      if (r.byte() !== 0x42) break; // 'B': end of record
      const t = new Reader(txn);
      const session = hex16(t.long());
      t.int(); // cxid
      const zxid = hex16(t.long());
      const time = Number(t.long());
      const type = t.int();
      try {
        parseOp(type, t, { zxid, time, session }, prefix, out);
      } catch {
        // a record this parser does not know in full: skip it
      }
    }
  } catch {
    // torn tail
  }
  return out;
}

/**
 * Every member's logs, merged: deduplicated by (zxid, op, path) and sorted by zxid. A committed txn is in
 * the logs of a quorum, so the union of all members' logs holds every one of them.
 */
export function readTxnLogs(dataDirs: string[], prefix: string): TxnRecord[] {
  const seen = new Map<string, TxnRecord>();
  for (const dir of dataDirs) {
    let files: string[];
    try {
      files = readdirSync(join(dir, 'version-2')).filter((f) => f.startsWith('log.'));
    } catch {
      continue;
    }
    for (const f of files) {
      for (const rec of parseTxnLog(readFileSync(join(dir, 'version-2', f)), prefix)) {
        const key = `${rec.zxid}:${rec.op}:${'path' in rec ? rec.path : rec.session}`;
        if (!seen.has(key)) seen.set(key, rec);
      }
    }
  }
  return [...seen.values()].sort((a, b) => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0));
}
