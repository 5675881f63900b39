/**
 * Data integrity end to end. Payload bytes are offset-derived: byte o of flow f's TCP stream is a
 * function of (f, o), so a run (flow, off, len) says exactly what len bytes are, and frames, wire
 * frames and packet views carry runs instead of bytes (src/hardware/payload.ts moves them). `gen` 0
 * means the bytes the flow's sender wrote; anything else means someone wrote over them.
 *
 * Every TCP receiver (guest, driver domain, native stack, the external client) hands its application
 * bytes in order; before it does, the stream check compares what those bytes are with what the
 * stream says they must be: its own flow, from the offset being delivered, unmodified.
 */
import { note, type Counters } from './counters.js';

/** `len` bytes of flow `flow`'s stream from offset `off`, as generation `gen` wrote them (0: the sender). */
export interface Run { flow: number; off: number; len: number; gen: number }
/** A gen for bytes that are not one piece of one stream (pieces that do not join, or bytes nobody wrote). */
export const GARBLED = -1;

/** How many mismatches are described (the count goes on). */
const DESCRIBED = 16;

export class StreamCheck {
  /** Flows whose receiving or sending end is an adversary's own stack: their bytes are its business. */
  readonly adversaryFlows = new Set<number>();
  /** The first mismatches on honest flows (counted as violations `data-integrity`), described. */
  readonly mismatches: string[] = [];
  /** Mismatches on adversary flows: what it did to its own stream (never a failure, not a counter). */
  adversaryMismatches = 0;
  constructor(readonly counters: Counters, readonly now: () => number) {}

  /** `who` hands `len` bytes of `flow` from stream offset `off` to its application; `got` is what the bytes are. */
  deliver(who: string, flow: number, off: number, len: number, got: Run): void {
    if (len <= 0) return;
    if (got.gen === 0 && got.flow === flow && got.off === off && got.len === len) return;
    if (this.adversaryFlows.has(flow)) { this.adversaryMismatches++; return; }
    note(this.counters, 'data-integrity');
    if (this.mismatches.length < DESCRIBED) {
      const what = got.gen === GARBLED ? `garbled bytes (from flow ${got.flow} offset ${got.off})`
        : `flow ${got.flow} bytes ${got.off}..${got.off + got.len}${got.gen ? ` rewritten (gen ${got.gen})` : ''}`;
      this.mismatches.push(`${who} delivered flow ${flow} bytes ${off}..${off + len} holding ${what} at ${this.now()} ps`);
    }
  }
}
