/**
 * An external merge sort of text items by a key of three numbers (t, a, b), for outputs whose items are produced out of
 * order (a state slice is known when it ends but sorts by when it began). Items collect in memory up
 * to a byte budget; a full buffer is sorted and written out as a run to a temporary file; at the end
 * the runs are merged (at most FAN_IN at a time) and handed out in key order. Memory stays bounded
 * by the budget plus one read buffer per merged run, whatever the number of items. A run that fits
 * the budget never touches the disk.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { explain } from './files.js';

/** Runs merged at once (each holds one read buffer). */
export const FAN_IN = 64;
const READ_BYTES = 1 << 16;
const HEAD = 28;

export interface SortOptions {
  /** Bytes of item text held in memory before a run is written out (default 32 MiB). */
  budgetBytes?: number;
  /** Temporary run files are this path plus a suffix; they are removed by drain or dispose. */
  tempPrefix: string;
  /** The output the sort serves, named in errors. */
  what: string;
}

/** Reads one run file back, record by record: [f64 t][f64 a][f64 b][u32 n][n bytes utf8]. */
class RunReader {
  private buf = Buffer.alloc(READ_BYTES);
  private start = 0;
  private end = 0;
  private pos = 0;
  t = 0;
  a = 0;
  b = 0;
  item = '';
  constructor(private readonly fd: number) {}
  /** Advance to the next record; false at the end. */
  next(): boolean {
    if (!this.have(HEAD)) return false;
    const n = this.buf.readUInt32LE(this.start + 24);
    if (!this.have(HEAD + n)) throw new Error('external sort: truncated run');
    this.t = this.buf.readDoubleLE(this.start);
    this.a = this.buf.readDoubleLE(this.start + 8);
    this.b = this.buf.readDoubleLE(this.start + 16);
    this.item = this.buf.toString('utf8', this.start + HEAD, this.start + HEAD + n);
    this.start += HEAD + n;
    return true;
  }
  private have(n: number): boolean {
    if (this.end - this.start >= n) return true;
    const left = this.end - this.start;
    if (n > this.buf.length) { const b = Buffer.alloc(2 * n); this.buf.copy(b, 0, this.start, this.end); this.buf = b; } else this.buf.copy(this.buf, 0, this.start, this.end);
    this.start = 0;
    this.end = left;
    for (;;) {
      const got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.pos);
      this.pos += got;
      this.end += got;
      if (got === 0 || this.end >= n) break;
    }
    return this.end >= n;
  }
}

export class ExternalSorter {
  private ts: number[] = [];
  private as: number[] = [];
  private bs: number[] = [];
  private items: string[] = [];
  private held = 0;
  private readonly runs: string[] = [];
  private made = 0;
  private readonly budget: number;
  /** Items added, and runs written to disk so far. */
  count = 0;
  spilled = 0;

  constructor(private readonly o: SortOptions) {
    this.budget = Math.max(1, o.budgetBytes ?? 32 << 20);
  }

  add(t: number, a: number, b: number, item: string): void {
    this.ts.push(t); this.as.push(a); this.bs.push(b); this.items.push(item);
    this.held += item.length + 40;
    this.count++;
    if (this.held >= this.budget) this.spill();
  }

  private order(): number[] {
    const { ts, as, bs } = this;
    return ts.map((_, i) => i).sort((x, y) => ts[x] - ts[y] || as[x] - as[y] || bs[x] - bs[y]);
  }

  private newRun(): { path: string; fd: number } {
    const path = `${this.o.tempPrefix}.run${this.made++}`;
    this.runs.push(path);
    try { return { path, fd: openSync(path, 'w') }; } catch (e) { throw explain(e, this.o.what); }
  }

  /** Write records to a run file through a buffer of fixed size. */
  private writer(fd: number) {
    let buf = Buffer.alloc(1 << 20), off = 0;
    const out = () => { for (let o = 0; o < off;) o += writeSync(fd, buf, o, off - o); off = 0; };
    return {
      put: (t: number, a: number, b: number, item: string) => {
        const max = HEAD + 3 * item.length;
        if (off + max > buf.length) { out(); if (max > buf.length) buf = Buffer.alloc(2 * max); }
        buf.writeDoubleLE(t, off); buf.writeDoubleLE(a, off + 8); buf.writeDoubleLE(b, off + 16);
        const n = buf.write(item, off + HEAD, 'utf8');
        buf.writeUInt32LE(n, off + 24);
        off += HEAD + n;
      },
      done: () => { out(); closeSync(fd); },
    };
  }

  /** Sort what is held and write it out as one run. */
  private spill(): void {
    const { fd } = this.newRun();
    try {
      const w = this.writer(fd);
      for (const i of this.order()) w.put(this.ts[i], this.as[i], this.bs[i], this.items[i]);
      w.done();
    } catch (e) { try { closeSync(fd); } catch { /* closed */ } this.dispose(); throw explain(e, this.o.what); }
    this.ts = []; this.as = []; this.bs = []; this.items = []; this.held = 0;
    this.spilled++;
  }

  /** Merge these run files in key order into `out`; the files are removed. */
  private merge(paths: string[], out: (t: number, a: number, b: number, item: string) => void): void {
    const fds = paths.map((p) => openSync(p, 'r'));
    try {
      const heap: RunReader[] = [];
      const less = (x: RunReader, y: RunReader) => x.t < y.t || (x.t === y.t && (x.a < y.a || (x.a === y.a && x.b < y.b)));
      const down = (i: number) => {
        for (;;) {
          const l = 2 * i + 1, r = l + 1;
          let m = i;
          if (l < heap.length && less(heap[l], heap[m])) m = l;
          if (r < heap.length && less(heap[r], heap[m])) m = r;
          if (m === i) return;
          [heap[i], heap[m]] = [heap[m], heap[i]];
          i = m;
        }
      };
      for (const fd of fds) { const r = new RunReader(fd); if (r.next()) heap.push(r); }
      for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
      while (heap.length) {
        const top = heap[0];
        out(top.t, top.a, top.b, top.item);
        if (!top.next()) { heap[0] = heap[heap.length - 1]; heap.pop(); }
        down(0);
      }
    } finally {
      for (const fd of fds) closeSync(fd);
      for (const p of paths) rmSync(p, { force: true });
    }
  }

  /** Every item in key order; temporary files are gone afterwards, also on failure. */
  drain(out: (item: string) => void): void {
    try {
      if (this.runs.length === 0) {
        for (const i of this.order()) out(this.items[i]);
        this.ts = []; this.as = []; this.bs = []; this.items = [];
        return;
      }
      if (this.items.length) this.spill();
      // Merge passes until one pass can take every run.
      while (this.runs.length > FAN_IN) {
        const group = this.runs.splice(0, FAN_IN);
        const { fd } = this.newRun();
        const w = this.writer(fd);
        this.merge(group, w.put);
        w.done();
      }
      this.merge(this.runs.splice(0), (_t, _a, _b, item) => out(item));
    } catch (e) {
      this.dispose();
      throw (e as NodeJS.ErrnoException).code ? explain(e, this.o.what) : e;
    }
  }

  /** Remove any temporary run files. */
  dispose(): void {
    for (const p of this.runs.splice(0)) rmSync(p, { force: true });
  }
}
