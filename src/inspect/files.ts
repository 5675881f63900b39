/**
 * Output files. A user's bad path is an InspectError (one line naming the path, exit 2), never a
 * crash or a hang; a file is written under a temporary name and renamed into place, so a failed
 * write never leaves half a file where a result is expected.
 */
import { mkdirSync, openSync, writeSync, closeSync, statSync, renameSync, rmSync, accessSync, constants } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export class InspectError extends Error {}

const WHY: Record<string, string> = {
  EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'read-only file system',
  ENOTDIR: 'a parent is not a directory', EISDIR: 'it is a directory', ENOENT: 'no such directory',
  EEXIST: 'a file is in the way', ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large', EIO: 'input/output error', EPIPE: 'the reader went away',
};

export function explain(e: unknown, what: string): InspectError {
  const err = e as NodeJS.ErrnoException;
  return new InspectError(`cannot write ${what}: ${(err.code && WHY[err.code]) ?? err.code ?? String(err.message ?? e)}`);
}

function statOf(p: string) {
  try { return statSync(p); } catch { return null; }
}

/**
 * Make `dir` and its missing parents, one level at a time from the nearest existing ancestor:
 * Node's recursive mkdir loops for ever under /proc, and a file in the way is named here.
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    const st = statOf(at);
    if (st) {
      if (!st.isDirectory()) throw new InspectError(`cannot write ${dir}: ${at} is a file, not a directory`);
      break;
    }
    missing.push(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing.reverse()) {
    try { mkdirSync(d); } catch (e) { throw explain(e, dir); }
  }
}

/** A regular file (or a name not yet taken) is replaced atomically; a device or FIFO is written in place. */
export function isInPlace(file: string): boolean {
  const st = statOf(file);
  if (st?.isDirectory()) throw new InspectError(`cannot write ${file}: it is a directory`);
  return st !== null && !st.isFile();
}

const tempOf = (file: string) => join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);

export function writeText(file: string, text: string | Uint8Array): void {
  const w = new ChunkWriter(file);
  w.write(text);
  w.close();
}

/** A file written in pieces (for traces too large to build as one string), renamed into place on close. */
export class ChunkWriter {
  private fd: number;
  private buf: Array<string | Uint8Array> = [];
  private size = 0;
  private readonly temp: string | null;
  constructor(readonly file: string) {
    ensureDir(dirname(file));
    this.temp = isInPlace(file) ? null : tempOf(file);
    try { this.fd = openSync(this.temp ?? file, 'w'); } catch (e) { throw explain(e, file); }
  }
  write(s: string | Uint8Array): void {
    this.buf.push(s);
    this.size += s.length;
    if (this.size > 1 << 20) this.flush();
  }
  private flush(): void {
    try {
      for (const b of this.buf) {
        // writeSync may take part of a buffer (a pipe): write until all of it is out.
        const bytes = typeof b === 'string' ? Buffer.from(b) : b;
        for (let off = 0; off < bytes.length;) off += writeSync(this.fd, bytes, off);
      }
    } catch (e) { this.abort(); throw explain(e, this.file); }
    this.buf = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    try {
      closeSync(this.fd);
      if (this.temp) renameSync(this.temp, this.file);
    } catch (e) { this.abort(); throw explain(e, this.file); }
  }
  /** Give up: the temporary file goes, the target is left as it was. */
  abort(): void {
    try { closeSync(this.fd); } catch { /* already closed */ }
    if (this.temp) rmSync(this.temp, { force: true });
  }
}

/** Fail before a long run, not after it: can this file be created (without creating it)? */
export function checkWritable(file: string): void {
  ensureDir(dirname(file));
  isInPlace(file);
  try { accessSync(dirname(resolve(file)), constants.W_OK); } catch (e) { throw explain(e, file); }
}

/** Fail before a long run: can results be written into this directory (made now if missing)? */
export function checkOutDir(dir: string): void {
  ensureDir(dir);
  try { accessSync(dir, constants.W_OK); } catch (e) { throw explain(e, dir); }
}

