/**
 * Worlds of many hosts: what a simulated second costs, per host, as the world grows.
 *
 * A generated world of N hosts (all optimizations, two CPUs, G guests each, 64 KiB socket buffers)
 * on one switch with a port per host: guest g of host i streams to guest g of host i+1 (the last
 * host to the first), so every host carries the same load, G streams out and G in through its NIC,
 * whatever N. With N = 1 the host's NIC is on an external peer instead, which sinks each guest's
 * stream and sends one back (the same per-host load, one host). Plus the rack (scenarios/worlds/
 * rack.yaml, 8 hosts x 4 guests, all-to-all) as a user runs it.
 *
 * Each point runs in a child process of its own (`bench.js worlds-point ...`), so its peak RSS is
 * its own and no JIT state carries over: build, the simulated warm-up untimed, then a timed window.
 * Cost per host = wall seconds per simulated second / hosts; a world without a super-linear term
 * keeps it flat as N grows.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PS_PER_MS } from '../src/actors/scheduler.js';
import { loadScenario, parseScenario, type Scenario } from '../src/scenario/schema.js';
import { build, type Built } from '../src/scenario/build.js';
import { scenarioDir } from '../src/paper/configs.js';

export const WORLD_HOSTS = [1, 2, 4, 8, 16, 32, 64];
const WARMUP_MS = 10;
const WINDOW_MS = 20;

/** The generated world of `hosts` hosts with `guests` guests each (see the header). */
export function ringWorld(hosts: number, guests: number, run = { warmupMs: WARMUP_MS, durationMs: WINDOW_MS }): Scenario {
  const names = Array.from({ length: hosts }, (_, i) => `host${i + 1}`);
  const gs = Array.from({ length: guests }, (_, g) => `guest${g + 1}`);
  const flows = hosts === 1
    ? gs.flatMap((g) => [{ from: `host1/${g}`, to: 'host1/peer1' }, { from: 'host1/peer1', to: `host1/${g}` }])
    : names.flatMap((h, i) => gs.map((g) => ({ from: `${h}/${g}`, to: `${names[(i + 1) % hosts]}/${g}` })));
  return parseScenario({
    name: `ring-${hosts}x${guests}`, topology: 'guest', guests,
    machine: { nics: 1, cpus: 2 },
    optimizations: { vnicOffload: true, txNoRemap: true, rxCopy: true, superpages: true, globalPages: true },
    tcp: { sndBufKiB: 64, rcvBufKiB: 64 },
    run,
    hosts: Object.fromEntries(names.map((h) => [h, {}])),
    switches: hosts === 1 ? {} : { sw0: { ports: hosts } },
    links: hosts === 1 ? [] : names.map((h, i) => ({ a: `${h}/eth0`, b: `sw0/p${i}` })),
    flows,
  }, `ring world ${hosts}x${guests}`);
}

/** Goodput so far of the flows a guest sends (each host's outgoing load; a peer's streams back are not counted). */
function sentByGuests(sc: Scenario, b: Built): number {
  let n = 0;
  sc.flows!.forEach((fl, f) => { if (!fl.from.includes('peer')) n += b.flowGoodput(f); });
  return n;
}

/**
 * One point, in this process: a short run of a small world of the same kind first (two hosts on a
 * switch, or the one host with its peer), so the JIT is warm on the paths the point takes and small
 * worlds are not timed on cold code; then build, warm up (untimed), time the window. Printed as JSON by the child.
 */
export function worldPoint(sc: Scenario) {
  const jit = build(ringWorld(Math.min(2, Object.keys(sc.hosts ?? {}).length), 2, { warmupMs: 5, durationMs: 5 }));
  jit.start();
  jit.sys.sched.run(10 * PS_PER_MS);
  jit.sys.stop();
  const t0 = performance.now();
  const b = build(sc);
  b.start();
  const t1 = performance.now();
  const warm = Math.round(sc.run.warmupMs * PS_PER_MS);
  b.sys.sched.run(warm);
  const e0 = b.sys.sched.delivered, g0 = sentByGuests(sc, b);
  const t2 = performance.now(), c2 = process.cpuUsage();
  b.sys.sched.run(warm + Math.round(sc.run.durationMs * PS_PER_MS));
  const t3 = performance.now(), c3 = process.cpuUsage(c2);
  const hosts = Object.keys(sc.hosts ?? { one: 0 }).length;
  const windowWallS = (t3 - t2) / 1000, simS = sc.run.durationMs / 1000;
  const r = {
    scenario: sc.name, hosts, guests: b.vifs.length, flows: b.flows, actors: b.sys.actors.size,
    buildWallS: +((t1 - t0) / 1000).toFixed(3), warmupWallS: +((t2 - t1) / 1000).toFixed(3), windowWallS: +windowWallS.toFixed(3),
    simSecondsPerWallSecond: +(simS / windowWallS).toFixed(5),
    /** Wall seconds per simulated second, per host: flat as hosts grow means no super-linear term. */
    wallSPerSimSPerHost: +(windowWallS / simS / hosts).toFixed(3),
    /** The same from the process's CPU time (user + system, every thread): less at the mercy of a loaded machine than wall time. */
    cpuSPerSimSPerHost: +((c3.user + c3.system) / 1e6 / simS / hosts).toFixed(3),
    eventsInWindow: b.sys.sched.delivered - e0,
    /** Goodput of the guests' streams in the window per host, Mb/s: the load each host sent (and received). */
    mbpsPerHost: +(((sentByGuests(sc, b) - g0) * 8) / simS / 1e6 / hosts).toFixed(1),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    traceHash: b.sys.traceHash(),
  };
  b.sys.stop();
  return r;
}

/** `worlds-point rack` or `worlds-point HOSTS GUESTS`, in this process. */
export function worldPointFromArgs(args: string[]) {
  if (args[0] === 'rack') return worldPoint(loadScenario(join(scenarioDir(), 'worlds', 'rack.yaml')));
  const [hosts, guests] = args.map(Number);
  if (!(Number.isInteger(hosts) && hosts >= 1 && Number.isInteger(guests) && guests >= 1)) throw new Error('worlds-point: give `rack` or HOSTS GUESTS (whole numbers from 1)');
  return worldPoint(ringWorld(hosts, guests));
}

const benchJs = fileURLToPath(new URL('./bench.js', import.meta.url));

/** One point in a child process of its own (clean peak RSS, cold JIT as a user's run). */
function child(args: string[]) {
  const p = spawnSync(process.execPath, ['--expose-gc', benchJs, 'worlds-point', ...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (p.status !== 0) return { args, error: `exit ${p.status ?? p.signal}: ${(p.stderr ?? '').slice(-500)}` };
  return JSON.parse(p.stdout) as ReturnType<typeof worldPoint>;
}

export function worldsPart() {
  const scaling = WORLD_HOSTS.map((n) => child([String(n), '4']));
  const base = scaling[0];
  const perHost = (r: (typeof scaling)[number]) => ('wallSPerSimSPerHost' in r ? r.wallSPerSimSPerHost : NaN);
  return {
    warmupMs: WARMUP_MS, windowMs: WINDOW_MS,
    rack: child(['rack']),
    hosts64x8: child(['64', '8']),
    scaling: scaling.map((r) => ({ ...r, costPerHostVsOne: +(perHost(r) / perHost(base)).toFixed(3) })),
  };
}
