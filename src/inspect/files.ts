/** Output files: a user's bad path is an InspectError (one line, no stack trace), not a crash. */
import { mkdirSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';

export class InspectError extends Error {}

function explain(e: unknown, what: string): InspectError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'EACCES' ? 'permission denied'
    : err.code === 'ENOTDIR' ? 'a parent is not a directory'
    : err.code === 'EISDIR' ? 'it is a directory'
    : err.code === 'ENOENT' ? 'no such directory'
    : err.code === 'EEXIST' ? 'a file is in the way'
    : err.code ?? String(err.message ?? e);
  return new InspectError(`cannot write ${what}: ${why}`);
}

export function ensureDir(dir: string): void {
  try { mkdirSync(dir, { recursive: true }); } catch (e) { throw explain(e, dir); }
}

export function writeText(file: string, text: string | Uint8Array): void {
  ensureDir(dirname(file));
  try { writeFileSync(file, text); } catch (e) { throw explain(e, file); }
}

/** A file written in pieces (for traces too large to build as one string). */
export class ChunkWriter {
  private fd: number;
  private buf: string[] = [];
  private size = 0;
  constructor(readonly file: string) {
    ensureDir(dirname(file));
    try { this.fd = openSync(file, 'w'); } catch (e) { throw explain(e, file); }
  }
  write(s: string): void {
    this.buf.push(s);
    this.size += s.length;
    if (this.size > 1 << 20) this.flush();
  }
  private flush(): void {
    if (this.buf.length) writeSync(this.fd, this.buf.join(''));
    this.buf = [];
    this.size = 0;
  }
  close(): void { this.flush(); closeSync(this.fd); }
}

/** Fail before a long run, not after it: can this file be created? */
export function checkWritable(file: string): void {
  const w = new ChunkWriter(file);
  w.close();
}
