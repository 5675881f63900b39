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

export class RecordLog {
  private buf: Buffer;
  private dv: DataView;
  private off = 0;
  private fd: number;
  private closed = false;
  /** Strings numbered in order of first use (types, actor names). */
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
    this.buf = Buffer.alloc(Math.max(64, bufferBytes));
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.owned = !existsSync(path);
    try { this.fd = openSync(path, 'w'); } catch (e) { throw explain(e, what); }
  }

  private id(s: string): number {
    let i = this.ids.get(s);
    if (i === undefined) { i = this.strings.length; this.strings.push(s); this.ids.set(s, i); }
    return i;
  }

  /** Room for n more bytes: write the buffer out when full (a record larger than the buffer grows it). */
  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) {
      this.buf = Buffer.alloc(2 * n);
      this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    }
  }

  private flush(): void {
    if (this.off === 0) return;
    const head = Buffer.alloc(4);
    head.writeUInt32LE(this.off, 0);
    try {
      for (const [b, n] of [[head, 4], [this.buf, this.off]] as const) for (let o = 0; o < n;) o += writeSync(this.fd, b, o, n - o);
    } catch (e) { this.dispose(); throw explain(e, this.what); }
    this.bytes += 4 + this.off;
    this.off = 0;
  }

  private head(tag: Tag, t: number, n: number): number {
    this.room(n);
    const o = this.off;
    this.buf[o] = tag;
    this.dv.setFloat64(o + 1, t, true);
    this.records++;
    return o + 9;
  }

  private str(o: number, s: string | undefined): number {
    if (s === undefined) { this.dv.setUint32(o, NO_STRING, true); return o + 4; }
    // Short ASCII text (message details) is copied here: cheaper than a call into Buffer.write.
    if (s.length <= 64) {
      const buf = this.buf;
      let i = 0;
      for (; i < s.length; i++) { const c = s.charCodeAt(i); if (c > 0x7f) break; buf[o + 4 + i] = c; }
      if (i === s.length) { this.dv.setUint32(o, i, true); return o + 4 + i; }
    }
    const n = this.buf.write(s, o + 4, 'utf8');
    this.dv.setUint32(o, n, true);
    return o + 4 + n;
  }

  state(t: number, actor: number, value: number): void {
    const o = this.head(Tag.State, t, 17);
    this.dv.setUint32(o, actor, true); this.dv.setUint32(o + 4, value, true);
    this.off = o + 8;
  }

  message(t: number, from: number, to: number, type: number, detail: string | undefined): void {
    const o = this.head(Tag.Message, t, 29 + (detail === undefined ? 0 : 3 * detail.length));
    this.dv.setUint32(o, from, true); this.dv.setUint32(o + 4, to, true); this.dv.setUint32(o + 8, type, true);
    this.off = this.str(o + 12, detail);
  }

  op(t: number, op: number, from: string, to: string | null, n: number, bytes: number): void {
    const o = this.head(Tag.Op, t, 38);
    this.buf[o] = op;
    this.dv.setUint32(o + 1, this.id(from), true); this.dv.setUint32(o + 5, to === null ? NO_STRING : this.id(to), true);
    this.dv.setFloat64(o + 9, n, true); this.dv.setFloat64(o + 17, bytes, true);
    this.off = o + 25;
  }

  wire(t: number, from: string, to: string, kind: number, flow: number, seq: number, len: number, ack: number, wnd: number): void {
    const o = this.head(Tag.Wire, t, 58);
    this.dv.setUint32(o, this.id(from), true); this.dv.setUint32(o + 4, this.id(to), true);
    this.buf[o + 8] = kind;
    this.dv.setUint32(o + 9, flow, true); this.dv.setFloat64(o + 13, seq, true); this.dv.setUint32(o + 21, len, true);
    this.dv.setFloat64(o + 25, ack, true); this.dv.setFloat64(o + 33, wnd, true);
    this.off = o + 41;
  }

  sample(json: string): void {
    const o = this.head(Tag.Sample, 0, 13 + 3 * json.length);
    this.off = this.str(o, json);
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
      const head = Buffer.alloc(4);
      let pos = 0, frame = Buffer.alloc(0);
      const strings = this.strings;
      for (;;) {
        if (readSync(fd, head, 0, 4, pos) < 4) break;
        const len = head.readUInt32LE(0);
        if (frame.length < len) frame = Buffer.alloc(len);
        for (let got = 0; got < len;) {
          const n = readSync(fd, frame, got, len - got, pos + 4 + got);
          if (n === 0) throw new Error(`record log ${this.path}: truncated frame`);
          got += n;
        }
        pos += 4 + len;
        const dv = new DataView(frame.buffer, frame.byteOffset, len);
        const str = (o: number): [string | undefined, number] => {
          const n = dv.getUint32(o, true);
          return n === NO_STRING ? [undefined, o + 4] : [frame.toString('utf8', o + 4, o + 4 + n), o + 4 + n];
        };
        for (let o = 0; o < len;) {
          const tag = frame[o] as Tag, t = dv.getFloat64(o + 1, true);
          o += 9;
          switch (tag) {
            case Tag.State: r.state?.(t, dv.getUint32(o, true), dv.getUint32(o + 4, true)); o += 8; break;
            case Tag.Message: {
              const [detail, next] = str(o + 12);
              r.message?.(t, dv.getUint32(o, true), dv.getUint32(o + 4, true), dv.getUint32(o + 8, true), detail);
              o = next;
              break;
            }
            case Tag.Op: {
              const to = dv.getUint32(o + 5, true);
              r.op?.(t, frame[o], strings[dv.getUint32(o + 1, true)], to === NO_STRING ? null : strings[to], dv.getFloat64(o + 9, true), dv.getFloat64(o + 17, true));
              o += 25;
              break;
            }
            case Tag.Wire:
              r.wire?.(t, strings[dv.getUint32(o, true)], strings[dv.getUint32(o + 4, true)], frame[o + 8], dv.getUint32(o + 9, true),
                dv.getFloat64(o + 13, true), dv.getUint32(o + 21, true), dv.getFloat64(o + 25, true), dv.getFloat64(o + 33, true));
              o += 41;
              break;
            case Tag.Sample: { const [json, next] = str(o); r.sample?.(json!); o = next; break; }
            default: throw new Error(`record log ${this.path}: bad record tag ${tag as number}`);
          }
        }
      }
    } finally { closeSync(fd); }
  }
}
