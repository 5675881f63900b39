/**
 * The run's side of save, restore and live migration (the `save`, `restore` and `migrate` events;
 * the loop itself is src/toolstack/migration.ts): what a guest's memory carries from one domain to
 * the next, and the toolstack calls on each host.
 *
 * - The source (xl migrate / xl save): the guest in log-dirty mode, its pages over the migration
 *   stream (a TCP flow from its dom0 to the destination's, added to the world's flows when the world
 *   is built) or to dom0's disk.
 * - The destination (xc_domain_restore, then the guest's resume): a new domain (the next domid of
 *   the host) built from the image; the guest's sockets are its memory, so they carry on there
 *   unchanged but for the pages they held, which are the image's copies in the new domain's frames;
 *   netfront_resume: xennet_disconnect_backend dropped what was in flight on the old rings (TCP sends
 *   it again) and talk_to_netback connects a new vif (new rings, grants and event channel) to a
 *   netback the destination's toolstack creates, with the guest's own MAC; once connected, the
 *   receive buffers are posted again and the guest announces itself (netdev_notify_peers: a
 *   gratuitous ARP), so the switch and the bridges learn where its MAC is now.
 * - The source then destroys its copy (xl destroy's path, src/toolstack/xl.ts) and the release
 *   checker (src/toolstack/release.ts) records what, if anything, it left on the source.
 */
import { newPacketId, type Packet } from '../core/packet.js';
import type { Exec } from '../core/exec.js';
import type { FlowMacs } from '../hardware/link.js';
import type { Placed } from '../hardware/memory.js';
import type { Kernel } from '../domains/kernel.js';
import { LogDirty } from '../hypervisor/log-dirty.js';
import { createDomain } from '../toolstack/host.js';
import { migrationMachine } from '../toolstack/migration-machine.js';
import { Migration, SAVE_DISK_MBPS, type MigrationResult } from '../toolstack/migration.js';
import { XC_SAVE_POLICY } from '../toolstack/precopy.js';
import { domainReleased, frontendLeft } from '../toolstack/release.js';
import type { ImageOps, Xl } from '../toolstack/xl.js';
import type { LifecycleEvent } from '../toolstack/lifecycle.js';
import type { Built, VifInfo } from './host.js';
import type { HostParts } from './lifecycle-host.js';

/** A gratuitous ARP's frames carry this flow number plus the event's index (no stream uses one this high). */
export const GARP_FLOW_BASE = 1 << 24;
/** The broadcast MAC, as the switch keeps MACs. */
const BROADCAST = 0xffffffffffff;
/** How often the source looks whether Xen has relinquished the destroyed copy, us. */
const RELEASE_POLL_US = 100;

/** The world's additions for migrations: each migrate event's stream flow, and the switches' addressing. */
export interface MigrationWiring { streams: Map<number, number>; addressing: FlowMacs | null; macNumber: (mac: string) => number }

/** What the guest's memory holds that the destination needs: the pages its sockets hold, copied. */
type Image = Map<number, { payload: Placed | undefined; contents: Packet | undefined }>;

/** Give every host's toolstack its save, restore and migrate verbs; the migrations' accounts go to `b.migrations`. */
export function attachImages(b: Built, hosts: HostParts[], wiring: MigrationWiring): void {
  const lc = b.lifecycle!;
  const xls = lc.toolstacks;
  const results: MigrationResult[] = [];
  b.migrations = results;
  const w = hosts[0].w;
  // Each migration's actor (kind migration), spawned after the toolstacks: one per migrate or save event.
  const actors = new Map<number, string>();
  for (const e of lc.events) {
    if (e.verb !== 'migrate' && e.verb !== 'save') continue;
    const h = hosts[hostIx(hosts, e.host)].h;
    const name = `${h.prefix}migration${e.index}`;
    b.sys.spawn(name, 'migration', migrationMachine, { name });
    actors.set(e.index, name);
  }
  // The streams' writers send only the pages they are given.
  for (const e of lc.events) {
    const f = wiring.streams.get(e.index);
    if (f !== undefined) w.stackOf(hosts[hostIx(hosts, e.host)].dom0).meter(f);
  }
  /** Saved guests by host and guest number, until restored; a restore issued while its save is still writing the image waits for it (xl runs them in turn). */
  const saved = new Map<string, Migration>();
  const saving = new Set<string>();
  const restoreAfterSave = new Map<string, () => void>();

  // Once the sources stop, a flow that has not moved since its guest resumed never will: its sampling ends there.
  const running: Migration[] = [];
  lc.sourcesStopped = () => { for (const m of running) m.stop(); };

  /** Start a save or a migration of guest `e.guest` of `ts`'s host. */
  const begin = (ts: Xl, e: LifecycleEvent): void => {
    const si = xls.indexOf(ts as Xl<VifInfo>), src = hosts[si];
    const k = ts.guest(e.guest);
    const vifs = src.vifs.filter((v) => v.guest === k && !v.hostile);
    const flows = [...new Set(vifs.flatMap((v) => v.flows))];
    const dst = e.verb === 'migrate' ? hosts[hostIx(hosts, e.to)] : src;
    const actorName = actors.get(e.index)!;
    const log = new LogDirty(src.h.mem, k.domid, () => [...src.h.ringPages].filter(([f]) => src.h.mem.ownerOf(f) === k.domid).map(([frame, ring]) => ({ frame, ring })));
    const streamFlow = wiring.streams.get(e.index);
    let image: Image | null = null;
    const key = `${src.host}/${e.guest}`;
    if (e.verb === 'save') saving.add(key);
    const m: Migration = new Migration({
      sys: b.sys, actor: b.sys.actors.get(actorName)!.actor, actorName, xen: src.h.xen!, domid: k.domid, log, policy: XC_SAVE_POLICY,
      stream: streamFlow === undefined ? null : { flow: streamFlow, from: w.stackOf(src.dom0), to: w.stackOf(dst.dom0) },
      diskMBps: SAVE_DISK_MBPS, rate: e.rateLimit ?? null, names: { guest: k.name, from: src.host ?? 'host', to: dst.host ?? 'host' },
      flows, goodput: (f) => b.flowGoodput(f),
      // A migration's image is taken when its last round is in; a save's when it was written (release).
      resume: (resumed) => { image ??= snapshot(w.stacks.get(k), flows, k); resumeGuest(src, dst, k, vifs, image, e.index, m.result, resumed); },
      release: (released) => {
        if (e.verb === 'save') { image = snapshot(w.stacks.get(k), flows, k); saved.set(key, m); saving.delete(key); }
        ts.destroy(k);
        // The image is written: a restore that waited for it runs now.
        if (e.verb === 'save') restoreAfterSave.get(key)?.();
        const xen = src.h.xen!;
        const poll = () => {
          if (!xen.isReleased(k.domid)) { b.sys.sched.after(RELEASE_POLL_US * 1e6, b.sys.rankOf(actorName), poll); return; }
          m.result.sourceLeft = domainReleased(src.h, k, src.dom0);
          released();
        };
        poll();
      },
    });
    results.push(m.result);
    running.push(m);
    m.start();
  };

  /** On host `dst`: a new domain from the image, its vifs resumed, its sockets carried over, then unpaused. */
  const resumeGuest = (src: HostParts, dst: HostParts, k: Kernel, vifs: VifInfo[], image: Image, index: number, r: MigrationResult, resumed: () => void): void => {
    const h = dst.h, xl = xls[hosts.indexOf(dst)];
    const domid = Math.max(...h.kernels.map((q) => q.domid)) + 1;
    const nk = createDomain(h, `${h.prefix}domU${domid}`, domid, domid % h.cpus.length);
    b.kernels.push(nk); // (not one of the host's numbered guests: events cannot name it)
    const old = w.stacks.get(k);
    const movePage = (f: number): number => {
      const nf = nk.allocFrame(), pg = image.get(f);
      if (pg?.payload) h.mem.payload.set(nf, { ...pg.payload });
      if (pg?.contents) h.mem.contents.set(nf, pg.contents);
      return nf;
    };
    const garpFlow = GARP_FLOW_BASE + index;
    for (const v of vifs) {
      wiring.addressing?.set(garpFlow, wiring.macNumber(v.mac), BROADCAST);
      for (const p of hosts) p.bridge.expectAnnouncement(garpFlow, v.mac);
      // netfront_resume: the old rings' buffers released (the count is the frontend's state at the suspension).
      const walk = (nv: VifInfo) => { const d = nv.nf.resumeFrom(v.nf); r.netfrontReleased.tx += d.tx; r.netfrontReleased.rx += d.rx; };
      xl.resumeVif(nk, v.vif, v.mac, walk, (nv, x) => {
        Object.assign(nv, { flows: v.flows, flow: v.flow });
        nv.nf.flows = new Set(v.flows);
        for (const f of v.flows) {
          const ends = src.bridge.macsOf(f);
          if (ends && !dst.bridge.macsOf(f)) dst.bridge.addFlow(f, ends[0], ends[1]);
          if (old) w.stackOf(nk).adopt(old, f, nv.nf, nv.stackQ, movePage);
        }
        announce(nk, nv, garpFlow, x);
        r.resumeLeft = [...(r.resumeLeft ?? []), ...frontendLeft(h, nv)];
      });
    }
    h.xen!.unpauseDomain(domid);
    resumed();
  };

  const ops: ImageOps = {
    migrate: begin,
    save: begin,
    restore: (ts, e) => {
      const key = `${hosts[xls.indexOf(ts as Xl<VifInfo>)].host}/${e.guest}`;
      const go = () => {
        const m = saved.get(key)!;
        saved.delete(key);
        restoreAfterSave.delete(key);
        m.restore(); // reads the image back, then resumes the guest on this host from it
      };
      if (saving.has(key)) { restoreAfterSave.set(key, go); return; }
      if (!saved.has(key)) throw new Error(`${ts.name}: nothing saved of guest ${e.guest}`);
      go();
    },
  };
  for (const xl of xls) xl.images = ops;
}

function hostIx(hosts: HostParts[], name: string | null): number {
  const i = hosts.findIndex((p) => p.host === name);
  if (i < 0) throw new Error(`no host ${name}`);
  return i;
}

/** The pages the guest's sockets hold, as they are now (the image's copy of them). */
function snapshot(stack: { heldPages(flow: number): number[] } | undefined, flows: number[], k: Kernel): Image {
  const img: Image = new Map();
  if (!stack) return img;
  for (const f of flows) for (const fr of stack.heldPages(f)) img.set(fr, { payload: k.mem.payload.get(fr), contents: k.mem.contents.get(fr) });
  return img;
}

/** netdev_notify_peers after the resume: one gratuitous ARP from the guest's MAC, out through its new vif. */
function announce(k: Kernel, v: VifInfo, flow: number, x: Exec): void {
  const frame = k.allocFrame();
  const p: Packet = {
    id: newPacketId(), flow, kind: 'data', reply: false, seq: 0, len: 0, ack: 0, wnd: 0, mss: 1, csum: 'done', frames: [frame],
    owner: k.domid, cold: undefined, release: undefined, data: undefined,
  };
  k.mem.contents.set(frame, p);
  p.release = () => k.freeFrame(frame);
  v.nf.counters.pkt.created++;
  v.stackQ.enqueue(x, p);
}
