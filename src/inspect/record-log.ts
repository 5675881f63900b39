/**
 * A run's observations as a binary log on disk, so a long recorded run costs disk, not RAM.
 *
 * The recorder appends fixed-layout records (state changes, delivered messages, hypervisor
 * operations, wire frames, samples) into one fixed-size buffer, written out as a frame each time it
 * fills. Actors are logged by rank and message types by the runtime's number for them; the names of
 * operations' parties are numbered once here. After the run the log is read back in order (read)
 * by the trace, pcapng and report writers, each taking what it needs. Appending allocates nothing
 * per record.
 */
import { closeSync, existsSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { explain } from './files.js';

const enum Tag { State = 1, Message = 2, Op = 3, Wire = 4, Sample = 5, Kept = 6 }
const NO_STRING = 0xffffffff;
/** Texts (message details, samples) gathered before they are encoded together: few enough to die young. */
const TEXT_BATCH = 1024;

/** What reading a log calls, per record, in the order they were appended. */
export interface LogReader {
  state?(t: number, actor: number, value: number): void;
  /** `type`: the number the runtime gave the message's type. */
  message?(t: number, from: number, to: number, type: number, detail: string | undefined): void;
  op?(t: number, op: number, from: string, to: string | null, n: number, bytes: number): void;
  /** `from`, `to`: the actors' ranks. */
  wire?(t: number, from: number, to: number, kind: number, flow: number, seq: number, len: number, ack: number, wnd: number): void;
  sample?(json: string): void;
  /** A sample the writer kept itself: its index (see RecordLog.kept). */
  kept?(index: number): void;
}

/** Typed views over one buffer: records are whole 8-byte words, so every field is an aligned element store. */
class Words {
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  constructor(readonly buf: Buffer) {
    this.f64 = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength >> 3);
    this.u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >> 2);
  }
}
const alloc = (bytes: number) => new Words(Buffer.alloc((bytes + 7) & ~7));

/**
 * A frame on disk: [u32 record bytes][u32 text bytes][records][texts]. A record is 2 to 7 words; the
 * texts of a frame's records (message details, samples) follow them as one UTF-8 run, each record
 * holding its text's length in UTF-16 units: a text costs the writer an array store, and is
 * encoded with the others of its batch in one call.
 */
export class RecordLog {
  private w: Words;
  /** Next free word. */
  private at = 0;
  /** Texts not yet encoded, and the frame's encoded texts. */
  private readonly pending: string[] = new Array<string>(TEXT_BATCH).fill('');
  private np = 0;
  private tb = Buffer.alloc(1 << 16);
  private tat = 0;
  private fd: number;
  private closed = false;
  /** Strings numbered in order of first use (actor names and event channels of operations). */
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

  /** Room for n more words (at most 8): write the buffer out when full. Returns the first. */
  private room(n: number): number {
    if (this.at + n > this.w.f64.length) this.flush();
    const at = this.at;
    this.at += n;
    this.records++;
    return at;
  }

  /** A record's text, encoded with its batch. */
  private text(s: string): void {
    this.pending[this.np++] = s;
    if (this.np === TEXT_BATCH) this.encode();
  }

  /** Encode the pending texts after the frame's others. */
  private encode(): void {
    if (this.np === 0) return;
    const s = (this.np === TEXT_BATCH ? this.pending : this.pending.slice(0, this.np)).join('');
    this.pending.fill('', 0, this.np);
    this.np = 0;
    const need = this.tat + 3 * s.length;
    if (need > this.tb.length) { const g = Buffer.alloc(Math.max(need, 2 * this.tb.length)); this.tb.copy(g, 0, 0, this.tat); this.tb = g; }
    this.tat += this.tb.write(s, this.tat, 'utf8');
  }

  /** The buffer as a frame on disk. */
  private flush(): void {
    this.encode();
    if (this.at === 0) return;
    const n = this.at * 8, tn = this.tat;
    const head = Buffer.alloc(8);
    head.writeUInt32LE(n, 0);
    head.writeUInt32LE(tn, 4);
    try {
      for (const [b, len] of [[head, 8], [this.w.buf, n], [this.tb, tn]] as const) for (let o = 0; o < len;) o += writeSync(this.fd, b, o, len - o);
    } catch (e) { this.dispose(); throw explain(e, this.what); }
    this.bytes += 8 + n + tn;
    this.at = 0;
    this.tat = 0;
  }

  state(t: number, actor: number, value: number): void {
    const at = this.room(2), u = this.w.u32;
    this.w.f64[at] = t;
    u[2 * at + 2] = Tag.State | (actor << 3); u[2 * at + 3] = value;
  }

  message(t: number, from: number, to: number, type: number, detail: string | undefined): void {
    const at = this.room(3), u = this.w.u32;
    this.w.f64[at] = t;
    u[2 * at + 2] = Tag.Message | (from << 3); u[2 * at + 3] = to; u[2 * at + 4] = type;
    if (detail === undefined) u[2 * at + 5] = NO_STRING;
    else { u[2 * at + 5] = detail.length; this.text(detail); }
  }

  op(t: number, op: number, from: string, to: string | null, n: number, bytes: number): void {
    const at = this.room(5), { u32: u, f64: f } = this.w;
    f[at] = t;
    u[2 * at + 2] = Tag.Op | (op << 3); u[2 * at + 3] = this.id(from);
    u[2 * at + 4] = to === null ? NO_STRING : this.id(to); u[2 * at + 5] = 0;
    f[at + 3] = n; f[at + 4] = bytes;
  }

  /** A frame from the actor of rank `from` to the one of rank `to`. */
  wire(t: number, from: number, to: number, kind: number, flow: number, seq: number, len: number, ack: number, wnd: number): void {
    const at = this.room(7), { u32: u, f64: f } = this.w;
    f[at] = t;
    u[2 * at + 2] = Tag.Wire | (kind << 3); u[2 * at + 3] = from;
    u[2 * at + 4] = to; u[2 * at + 5] = flow;
    u[2 * at + 6] = len; u[2 * at + 7] = 0;
    f[at + 4] = seq; f[at + 5] = ack; f[at + 6] = wnd;
  }

  sample(json: string): void {
    const at = this.room(2), u = this.w.u32;
    this.w.f64[at] = 0;
    u[2 * at + 2] = Tag.Sample; u[2 * at + 3] = json.length;
    this.text(json);
  }

  /** A sample the writer keeps in memory itself: only its place in the order is logged. */
  kept(index: number): void {
    const at = this.room(2), u = this.w.u32;
    this.w.f64[at] = 0;
    u[2 * at + 2] = Tag.Kept; u[2 * at + 3] = index;
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
        const len = head.readUInt32LE(0), tlen = head.readUInt32LE(4);
        if (w.buf.length < len + tlen) w = alloc(len + tlen);
        for (let got = 0; got < len + tlen;) {
          const n = readSync(fd, w.buf, got, len + tlen - got, pos + 8 + got);
          if (n === 0) throw new Error(`record log ${this.path}: truncated frame`);
          got += n;
        }
        pos += 8 + len + tlen;
        const { f64: f, u32: u } = w;
        // The frame's texts in order: each record takes the next so many UTF-16 units.
        const texts = tlen ? w.buf.toString('utf8', len, len + tlen) : '';
        let tp = 0;
        const text = (n: number): string => texts.slice(tp, (tp += n));
        for (let at = 0; at < len >> 3;) {
          const t = f[at], h = u[2 * at + 2], tag = (h & 7) as Tag, x = h >>> 3;
          switch (tag) {
            case Tag.State: r.state?.(t, x, u[2 * at + 3]); at += 2; break;
            case Tag.Message: {
              const n = u[2 * at + 5];
              const detail = n === NO_STRING ? undefined : text(n);
              r.message?.(t, x, u[2 * at + 3], u[2 * at + 4], detail);
              at += 3;
              break;
            }
            case Tag.Op: {
              const to = u[2 * at + 4];
              r.op?.(t, x, strings[u[2 * at + 3]], to === NO_STRING ? null : strings[to], f[at + 3], f[at + 4]);
              at += 5;
              break;
            }
            case Tag.Wire:
              r.wire?.(t, u[2 * at + 3], u[2 * at + 4], x, u[2 * at + 5], f[at + 4], u[2 * at + 6], f[at + 5], f[at + 6]);
              at += 7;
              break;
            case Tag.Sample: { const json = text(u[2 * at + 3]); r.sample?.(json); at += 2; break; }
            case Tag.Kept: r.kept?.(u[2 * at + 3]); at += 2; break;
            default: throw new Error(`record log ${this.path}: bad record tag ${tag as number}`);
          }
        }
      }
    } finally { closeSync(fd); }
  }
}
