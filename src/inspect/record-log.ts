/**
 * A run's observations as a binary log on disk, so a long recorded run costs disk, not RAM.
 *
 * The recorder appends fixed-layout records (state changes, delivered messages, hypervisor
 * operations, wire frames, samples) into one fixed-size buffer, written out as a frame
 * ([u32 length][records]) each time it fills; strings that repeat (message types, actor names) are
 * numbered once (message types by the runtime). After the run the log is read back in order (readLog) by the trace, pcapng and
 * report writers, each taking what it needs. Appending allocates nothing per record.
 */
import { closeSync, existsSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { explain } from './files.js';

const enum Tag { State = 1, Message = 2, Op = 3, Wire = 4, Sample = 5 }
const NO_STRING = 0xffffffff;

/** What reading a log calls, per record, in the order they were appended. */
export interface LogReader {
  state?(t: number, actor: number, value: number): void;
  /** `type`: the number the runtime gave the message's type. */
  message?(t: number, from: number, to: number, type: number, detail: string | undefined): void;
  op?(t: number, op: number, from: string, to: string | null, n: number, bytes: number): void;
  wire?(t: number, from: string, to: string, kind: number, flow: number, seq: number, len: number, ack: number, wnd: number): void;
  sample?(json: string): void;
}

/** Typed views over one buffer: records are whole 8-byte words, so every field is an aligned element store. */
class Words {
  readonly bytes: Uint8Array;
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  constructor(readonly buf: Buffer) {
    this.bytes = buf;
    this.f64 = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength >> 3);
    this.u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >> 2);
  }
}
const alloc = (bytes: number) => new Words(Buffer.alloc((bytes + 7) & ~7));
/** Words a text of n bytes takes after its record's head. */
const textWords = (n: number) => (n + 7) >> 3;

export class RecordLog {
  private w: Words;
  /** Next free word. */
  private at = 0;
  private fd: number;
  private closed = false;
  /** Strings numbered in order of first use (actor names of frames and operations). */
  readonly strings: string[] = [];
  private readonly ids = new Map<string, number>();
  /** Records appended so far. */
  records = 0;
  /** Bytes written to disk so far. */
  bytes = 0;

  /** Whether this log made its file (only then does dispose remove it: a device given as the path stays). */
  private readonly owned: boolean;

  /** `path` is a temporary file (removed by dispose); `what` names the output it serves in errors. */
  constructor(readonly path: string, readonly what: string, bufferBytes = 1 << 20) {
    this.w = alloc(Math.max(64, bufferBytes));
    this.owned = !existsSync(path);
    try { this.fd = openSync(path, 'w'); } catch (e) { throw explain(e, what); }
  }

  private id(s: string): number {
    let i = this.ids.get(s);
    if (i === undefined) { i = this.strings.length; this.strings.push(s); this.ids.set(s, i); }
    return i;
  }

  /** Room for n more words: write the buffer out when full (a record larger than the buffer grows it). Returns the first. */
  private room(n: number): number {
    if (this.at + n > this.w.f64.length) {
      this.flush();
      if (n > this.w.f64.length) this.w = alloc(16 * n);
    }
    const at = this.at;
    this.at += n;
    this.records++;
    return at;
  }

  /** The buffer as a frame on disk: [u32 bytes][u32 0][words]. */
  private flush(): void {
    if (this.at === 0) return;
    const n = this.at * 8;
    const head = Buffer.alloc(8);
    head.writeUInt32LE(n, 0);
    try {
      for (const [b, len] of [[head, 8], [this.w.buf, n]] as const) for (let o = 0; o < len;) o += writeSync(this.fd, b, o, len - o);
    } catch (e) { this.dispose(); throw explain(e, this.what); }
    this.bytes += 8 + n;
    this.at = 0;
  }

  /** A text after a record's head at word `at`: its length in u32 slot `lenSlot`, its bytes from word at+1. */
  private text(lenSlot: number, at: number, s: string | undefined): void {
    const { u32, bytes } = this.w;
    if (s === undefined) { u32[lenSlot] = NO_STRING; return; }
    const o = at * 8;
    // Short ASCII text (message details) is copied here: cheaper than a call into Buffer.write.
    let i = 0;
    for (; i < s.length; i++) { const c = s.charCodeAt(i); if (c > 0x7f) break; bytes[o + i] = c; }
    u32[lenSlot] = i === s.length ? i : this.w.buf.write(s, o, 'utf8');
  }

  /** Words for a text of this many UTF-16 units at most (3 bytes each). */
  private static room(s: string | undefined): number { return s === undefined ? 0 : textWords(3 * s.length); }

  state(t: number, actor: number, value: number): void {
    const at = this.room(2), u = this.w.u32;
    this.w.f64[at] = t;
    u[2 * at + 2] = Tag.State | (actor << 3); u[2 * at + 3] = value;
  }

  message(t: number, from: number, to: number, type: number, detail: string | undefined): void {
    const at = this.room(3 + RecordLog.room(detail)), u = this.w.u32;
    this.w.f64[at] = t;
    u[2 * at + 2] = Tag.Message | (from << 3); u[2 * at + 3] = to; u[2 * at + 4] = type;
    this.text(2 * at + 5, at + 3, detail);
    // Give back the words the text did not need.
    if (detail !== undefined) this.at = at + 3 + textWords(u[2 * at + 5]);
  }

  op(t: number, op: number, from: string, to: string | null, n: number, bytes: number): void {
    const at = this.room(5), { u32: u, f64: f } = this.w;
    f[at] = t;
    u[2 * at + 2] = Tag.Op | (op << 3); u[2 * at + 3] = this.id(from);
    u[2 * at + 4] = to === null ? NO_STRING : this.id(to); u[2 * at + 5] = 0;
    f[at + 3] = n; f[at + 4] = bytes;
  }

  wire(t: number, from: string, to: string, kind: number, flow: number, seq: number, len: number, ack: number, wnd: number): void {
    const at = this.room(7), { u32: u, f64: f } = this.w;
    f[at] = t;
    u[2 * at + 2] = Tag.Wire | (kind << 3); u[2 * at + 3] = this.id(from);
    u[2 * at + 4] = this.id(to); u[2 * at + 5] = flow;
    u[2 * at + 6] = len; u[2 * at + 7] = 0;
    f[at + 4] = seq; f[at + 5] = ack; f[at + 6] = wnd;
  }

  sample(json: string): void {
    const at = this.room(2 + RecordLog.room(json)), u = this.w.u32;
    this.w.f64[at] = 0;
    u[2 * at + 2] = Tag.Sample;
    this.text(2 * at + 3, at + 2, json);
    this.at = at + 2 + textWords(u[2 * at + 3]);
  }

  /** Write out what is buffered and close the file (it stays until dispose). */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    try { closeSync(this.fd); } catch (e) { throw explain(e, this.what); }
  }

  /** Close (if open) and remove the file. */
  dispose(): void {
    if (!this.closed) { this.closed = true; try { closeSync(this.fd); } catch { /* already closed */ } }
    if (this.owned) rmSync(this.path, { force: true });
  }

  /** Read every record back, in order, one frame in memory at a time. */
  read(r: LogReader): void {
    if (!this.closed) this.close();
    const fd = openSync(this.path, 'r');
    try {
      const head = Buffer.alloc(8);
      let pos = 0, w = alloc(8);
      const strings = this.strings;
      for (;;) {
        if (readSync(fd, head, 0, 8, pos) < 8) break;
        const len = head.readUInt32LE(0);
        if (w.buf.length < len) w = alloc(len);
        for (let got = 0; got < len;) {
          const n = readSync(fd, w.buf, got, len - got, pos + 8 + got);
          if (n === 0) throw new Error(`record log ${this.path}: truncated frame`);
          got += n;
        }
        pos += 8 + len;
        const { f64: f, u32: u, buf } = w;
        const text = (lenSlot: number, at: number): string | undefined => (u[lenSlot] === NO_STRING ? undefined : buf.toString('utf8', at * 8, at * 8 + u[lenSlot]));
        for (let at = 0; at < len >> 3;) {
          const t = f[at], h = u[2 * at + 2], tag = (h & 7) as Tag, x = h >>> 3;
          switch (tag) {
            case Tag.State: r.state?.(t, x, u[2 * at + 3]); at += 2; break;
            case Tag.Message: {
              const n = u[2 * at + 5];
              r.message?.(t, x, u[2 * at + 3], u[2 * at + 4], text(2 * at + 5, at + 3));
              at += 3 + (n === NO_STRING ? 0 : textWords(n));
              break;
            }
            case Tag.Op: {
              const to = u[2 * at + 4];
              r.op?.(t, x, strings[u[2 * at + 3]], to === NO_STRING ? null : strings[to], f[at + 3], f[at + 4]);
              at += 5;
              break;
            }
            case Tag.Wire:
              r.wire?.(t, strings[u[2 * at + 3]], strings[u[2 * at + 4]], x, u[2 * at + 5], f[at + 4], u[2 * at + 6], f[at + 5], f[at + 6]);
              at += 7;
              break;
            case Tag.Sample: r.sample?.(text(2 * at + 3, at + 2)!); at += 2 + textWords(u[2 * at + 3]); break;
            default: throw new Error(`record log ${this.path}: bad record tag ${tag as number}`);
          }
        }
      }
    } finally { closeSync(fd); }
  }
}
