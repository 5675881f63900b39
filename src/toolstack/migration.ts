/**
 * Save and pre-copy live migration of a guest, as xl migrate / xl save drive xc_domain_save
 * (Clark et al., "Live Migration of Virtual Machines", NSDI 2005; Xen 3.x/4.0's xc_domain_save.c):
 *
 * 1. The guest goes into log-dirty mode (log-dirty.ts). Round 1 sends every page it owns; each later
 *    round sends the pages the round before left dirty (the bitmap read and cleaned), while the
 *    guest runs and its network traffic dirties more.
 * 2. After each round the stop rule (precopy.ts) decides: another live round, or the last one. For
 *    the last, the guest is suspended (paused: the downtime starts), the bitmap read once more and
 *    what it holds sent (stop-and-copy).
 * 3. The destination builds the domain from the pages and resumes it (`resume`: a new domain, netfront
 *    reconnecting to a new netback, a gratuitous ARP); the downtime ends when it is unpaused.
 * 4. The source destroys its copy (`release`).
 *
 * The pages go over a migration stream: a TCP connection from the source's dom0 to the destination's
 * (`stream`), on the hosts' real NICs, switch and CPUs, so it competes with the guests' traffic; a
 * round ends when the destination's dom0 has read all of it. Each page costs its 4 KiB and its pfn
 * (8 bytes: the batch's pfn list). A save (`stream` null) writes the image to dom0's disk at `diskMBps`
 * and is not live: its one round is the last (xl save suspends the guest first).
 */
import type { ActorLike, ActorSystem } from '../actors/runtime.js';
import { PS_PER_MS, PS_PER_US } from '../actors/scheduler.js';
import { PAGE_SIZE } from '../core/packet.js';
import type { Xen } from '../hypervisor/xen.js';
import type { LogDirty } from '../hypervisor/log-dirty.js';
import type { NetStack } from '../domains/netstack.js';
import { MIG } from './migration-machine.js';
import { precopyStop, type PrecopyPolicy, type StopReason } from './precopy.js';
import { BURST_BYTES, burstGapPs, dirtyRateMbps, exceedsMax, nextLimitMbps, type AdaptiveRate } from './rate-limit.js';

/** Bytes on the stream per page: the page, and its entry in the batch's pfn list. */
export const STREAM_BYTES_PER_PAGE = PAGE_SIZE + 8;
/** A save's disk (dom0's, 2006-era: about 60-80 MB/s sequential), MB/s. */
export const SAVE_DISK_MBPS = 70;
/** The last round also carries the suspended guest's state: its vCPU context and its shared-info page (xc_domain_save's tail). */
export const SUSPENDED_STATE_BYTES = 2 * PAGE_SIZE;
/** How often each flow of the guest is looked at for its stall and recovery, us. */
const FLOW_SAMPLE_US = 250;

/** A migration's account (result JSON `migration`). */
export interface MigrationResult {
  guest: string; from: string; to: string; kind: 'migrate' | 'save';
  startMs: number;
  /** Pre-copy rounds, the last (stop-and-copy) included, and the pages each sent. */
  rounds: number; pagesPerRound: number[];
  /** When each round started, when the guest was suspended (the last round's start) and unpaused on the destination, virtual ms (null: not yet). */
  roundsAtMs: number[]; suspendedAtMs: number | null; resumedAtMs: number | null;
  /** Why pre-copy stopped (precopy.ts), 'save' (not live), or null while it goes on. */
  stop: StopReason | 'save' | null;
  pagesSent: number; bytesSent: number;
  /** The guest paused: from its suspension to its unpause on the destination (a save: to its restore), ms. */
  downtimeMs: number | null;
  /** From the start to the source's release, ms. */
  totalMs: number | null;
  /** The guest's flows: the longest time without a byte delivered from the start on, and when a byte came again after the resume (ms after it). */
  flows: Array<{ flow: number; stallMs: number | null; recoveryMs: number | null }>;
  /** What the release checker found left of the guest on the source once it was destroyed (empty: nothing), or null before. */
  sourceLeft: string[] | null;
  /** netfront_resume's walk of the old rings (every vif of the guest): in-flight TX packets and posted RX buffers released. */
  netfrontReleased: { tx: number; rx: number };
  /** What the release checker found wrong with the resumed frontends once connected (stale grants, lost ids; empty: nothing), or null before. */
  resumeLeft: string[] | null;
  /** Under the adaptive rate limit only: each round's limit, and the rate at which the guest dirtied pages during each live round, Mb/s. */
  rateMbpsPerRound?: number[];
  dirtyMbpsPerRound?: number[];
}

export interface MigrationPlan {
  sys: ActorSystem;
  /** The `migration` actor (migration-machine.ts) told of each step, and its name (its rank orders the migration's timers). */
  actor: ActorLike; actorName: string;
  xen: Xen;
  domid: number;
  log: LogDirty;
  policy: PrecopyPolicy;
  /** The migration stream's two dom0 stacks and its flow; null: a save to dom0's disk. */
  stream: { flow: number; from: NetStack; to: NetStack } | null;
  /** A save's disk rate, MB/s. */
  diskMBps: number;
  /** The migration stream's adaptive rate limit (rate-limit.ts), or null: the stream runs at whatever TCP gets. */
  rate: AdaptiveRate | null;
  /** Names in the result. */
  names: { guest: string; from: string; to: string };
  /** The guest's flows, and each one's bytes delivered so far. */
  flows: number[];
  goodput: (flow: number) => number;
  /**
   * Build the guest on the destination from its pages and resume it; call `resumed` once it is
   * unpaused there. A save: restore (at the restore's time) instead.
   */
  resume: (resumed: () => void) => void;
  /** The source destroys its copy of the guest; call `released` once Xen has let go of it. */
  release: (released: () => void) => void;
}

export class Migration {
  readonly result: MigrationResult;
  private startPs = 0;
  private pausedPs = -1;
  private resumedPs = -1;
  /** Stream bytes the destination must have read for the current round to be in. */
  private target = 0;
  private last = false;
  private sampling = true;
  private readonly lastMove = new Map<number, { at: number; bytes: number; stall: number }>();
  private readonly recovered = new Map<number, number>();
  /** Under the adaptive limit: the current round's limit (Mb/s), when it started, and its pacer's bytes still to supply. */
  private limitMbps = 0;
  private roundPs = 0;
  private unpaced = 0;

  constructor(private readonly p: MigrationPlan) {
    this.result = {
      guest: p.names.guest, from: p.names.from, to: p.names.to, kind: p.stream ? 'migrate' : 'save', startMs: 0,
      rounds: 0, pagesPerRound: [], roundsAtMs: [], suspendedAtMs: null, resumedAtMs: null, stop: p.stream ? null : 'save', pagesSent: 0, bytesSent: 0, downtimeMs: null, totalMs: null,
      flows: p.flows.map((flow) => ({ flow, stallMs: null, recoveryMs: null })), sourceLeft: null,
      netfrontReleased: { tx: 0, rx: 0 }, resumeLeft: null,
      ...(p.rate && p.stream ? { rateMbpsPerRound: [], dirtyMbpsPerRound: [] } : {}),
    };
    if (p.rate) this.limitMbps = p.rate.startMbps;
    p.stream?.to.onRead(p.stream.flow, (d) => { if (d >= this.target && this.target > 0) this.roundDone(); });
  }

  private get now(): number { return this.p.sys.sched.now; }

  /** xl migrate / xl save: log-dirty on, and round 1 (every page of the guest). */
  start(): void {
    const p = this.p;
    this.startPs = this.now;
    this.result.startMs = this.startPs / PS_PER_MS;
    p.actor.send(MIG.START);
    p.log.enable();
    for (const f of p.flows) this.lastMove.set(f, { at: this.startPs, bytes: p.goodput(f), stall: 0 });
    this.sample();
    const all = p.log.mem.framesOf(p.domid);
    if (!p.stream) { this.suspend(); this.send(all.length); return; } // xl save: suspended first, one round
    this.send(all.length);
  }

  /** One round's pages onto the stream (or the disk). */
  private send(pages: number): void {
    const p = this.p;
    this.result.rounds++;
    this.result.pagesPerRound.push(pages);
    this.result.roundsAtMs.push(this.now / PS_PER_MS);
    this.result.pagesSent += pages;
    const bytes = pages * STREAM_BYTES_PER_PAGE + (this.last ? SUSPENDED_STATE_BYTES : 0);
    this.result.bytesSent += bytes;
    if (!p.stream) {
      const ps = Math.round((bytes / (p.diskMBps * 1e6)) * 1e12);
      p.sys.sched.after(ps, p.sys.rankOf(p.actorName), () => this.roundDone());
      return;
    }
    this.target += bytes;
    const mbps = p.rate ? (this.last ? p.rate.maxMbps : this.limitMbps) : 0;
    if (p.rate) { this.result.rateMbpsPerRound!.push(mbps); this.roundPs = this.now; }
    if (bytes === 0) { p.sys.sched.after(0, p.sys.rankOf(p.actorName), () => this.roundDone()); return; } // nothing dirty: the round is empty
    if (!p.rate) { p.stream.from.supply(p.stream.flow, bytes); return; }
    // The pacer on the sending dom0 (xc_linux_save's ratewrite): a burst now, the next when the limit allows.
    this.unpaced = bytes;
    const stream = p.stream, gap = burstGapPs(mbps);
    const burst = () => {
      const n = Math.min(BURST_BYTES, this.unpaced);
      this.unpaced -= n;
      stream.from.supply(stream.flow, n);
      if (this.unpaced > 0) p.sys.sched.after(gap, p.sys.rankOf(p.actorName), burst);
    };
    burst();
  }

  /** The destination has the round: another, the last, or (after the last) the resume. */
  private roundDone(): void {
    const p = this.p;
    if (this.last) { this.last = false; this.target = 0; this.copied(); return; }
    if (p.rate) { this.adaptiveRoundDone(p.rate); return; }
    const stop = precopyStop(p.policy, this.result.pagesPerRound, p.log.mem.pages(p.domid));
    if (stop === null) {
      p.actor.send(MIG.ROUND);
      this.send(p.log.peekAndClean().length);
      return;
    }
    this.result.stop = stop;
    this.suspend();
    this.send(p.log.peekAndClean().length);
  }

  /**
   * Under the adaptive limit (Clark et al. 5.1): the round's dirtying rate sets the next round's limit;
   * pre-copy ends by xc_domain_save's rule (its no-progress end only at the maximum rate) or when the
   * limit would exceed the maximum; then stop-and-copy at the maximum.
   */
  private adaptiveRoundDone(r: AdaptiveRate): void {
    const p = this.p;
    const dirty = p.log.peekAndClean();
    const dirtyMbps = dirtyRateMbps(dirty.length, (this.now - this.roundPs) / PS_PER_US);
    this.result.dirtyMbpsPerRound!.push(dirtyMbps);
    const limit = nextLimitMbps(r, dirtyMbps);
    const stop = precopyStop(p.policy, this.result.pagesPerRound, p.log.mem.pages(p.domid), this.limitMbps >= r.maxMbps)
      ?? (exceedsMax(r, limit) ? 'rate-max' : null);
    if (stop === null) {
      this.limitMbps = limit;
      p.actor.send(MIG.ROUND);
      this.send(dirty.length);
      return;
    }
    this.result.stop = stop;
    this.suspend();
    this.send(dirty.length);
  }

  /** The last round: the guest is paused (the downtime starts) and what is dirty then is sent. */
  private suspend(): void {
    this.p.actor.send(MIG.LAST_ROUND);
    this.last = true;
    this.pausedPs = this.now;
    this.result.suspendedAtMs = this.now / PS_PER_MS;
    this.p.xen.pauseDomain(this.p.domid);
  }

  /** Every page is across: the destination builds the domain and resumes it; a save's image is on disk and the domain goes. */
  private copied(): void {
    const p = this.p;
    p.log.disable();
    if (!p.stream) { p.actor.send(MIG.SAVED); p.release(() => {}); return; }
    p.actor.send(MIG.COPIED);
    p.resume(() => this.resumed());
  }

  /** xl restore of a saved guest (its image read back from the disk at the same rate). */
  restore(): void {
    const p = this.p;
    p.actor.send(MIG.RESTORE);
    const ps = Math.round((this.result.bytesSent / (p.diskMBps * 1e6)) * 1e12);
    p.sys.sched.after(ps, p.sys.rankOf(p.actorName), () => p.resume(() => this.resumed()));
  }

  private resumed(): void {
    const p = this.p;
    this.resumedPs = this.now;
    this.result.resumedAtMs = this.now / PS_PER_MS;
    this.result.downtimeMs = (this.resumedPs - this.pausedPs) / PS_PER_MS;
    p.actor.send(MIG.RESUMED);
    const end = () => { p.actor.send(MIG.RELEASED); this.result.totalMs = (this.now - this.startPs) / PS_PER_MS; };
    if (!p.stream) { end(); return; } // a save released the domain when its image was written
    p.release(end);
  }

  /** Each flow of the guest, every FLOW_SAMPLE_US: its longest stall so far, and its first byte after the resume. */
  private sample(): void {
    const p = this.p;
    const t = this.now;
    for (const f of p.flows) {
      const m = this.lastMove.get(f)!;
      const b = p.goodput(f);
      if (b !== m.bytes) {
        m.stall = Math.max(m.stall, t - m.at);
        m.at = t; m.bytes = b;
        if (this.resumedPs >= 0 && !this.recovered.has(f)) this.recovered.set(f, t - this.resumedPs);
      }
    }
    this.result.flows = p.flows.map((flow) => {
      const m = this.lastMove.get(flow)!, r = this.recovered.get(flow);
      return { flow, stallMs: Math.max(m.stall, t - m.at) / PS_PER_MS, recoveryMs: r === undefined ? null : r / PS_PER_MS };
    });
    if (this.resumedPs >= 0 && this.recovered.size === p.flows.length) this.sampling = false;
    if (this.sampling) p.sys.sched.after(FLOW_SAMPLE_US * PS_PER_US, p.sys.rankOf(p.actorName), () => this.sample());
  }

  /** The run is over: stop sampling (the stall of a flow that never recovered runs to here). */
  stop(): void { this.sampling = false; }
}
