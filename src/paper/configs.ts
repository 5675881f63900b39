/**
 * The configurations of Menon, Cox & Zwaenepoel (USENIX ATC 2006). Each is a
 * base scenario plus switches; none carries a number of its own except the
 * paper's measured figure it is compared with.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario, parseScenario, setPath, type Override, type Scenario } from '../scenario/schema.js';

export type Opt = Partial<Scenario['optimizations']>;
export interface PaperConfig {
  id: string;
  label: string;
  base: 'linux-tx' | 'linux-rx' | 'driver-tx' | 'driver-rx' | 'guest-tx' | 'guest-rx';
  opt: Opt;
  nicOffload: boolean;
  paperMbps: number | null;
  note?: string;
}

const MEM: Opt = { superpages: true, globalPages: true };
const IO: Opt = { txNoRemap: true, rxCopy: true };
const VNIC: Opt = { vnicOffload: true };
const ALL: Opt = { ...VNIC, ...IO, ...MEM };

export const PAPER_CONFIGS: PaperConfig[] = [
  { id: 'linux-tx', label: 'Linux transmit', base: 'linux-tx', opt: {}, nicOffload: true, paperMbps: 3760 },
  { id: 'driver-tx', label: 'Driver domain transmit, Xen 2.0', base: 'driver-tx', opt: {}, nicOffload: true, paperMbps: null },
  { id: 'driver-tx-mem', label: 'Driver domain transmit, superpages + global pages', base: 'driver-tx', opt: MEM, nicOffload: true, paperMbps: null },
  { id: 'guest-tx', label: 'Guest transmit, Xen 2.0', base: 'guest-tx', opt: {}, nicOffload: true, paperMbps: 750 },
  { id: 'guest-tx-vnic', label: 'Guest transmit, high-level virtual NIC only', base: 'guest-tx', opt: VNIC, nicOffload: true, paperMbps: null },
  { id: 'guest-tx-io', label: 'Guest transmit, I/O channel only', base: 'guest-tx', opt: IO, nicOffload: true, paperMbps: null },
  { id: 'guest-tx-mem', label: 'Guest transmit, superpages + global pages only', base: 'guest-tx', opt: MEM, nicOffload: true, paperMbps: null },
  { id: 'guest-tx-all', label: 'Guest transmit, all optimizations', base: 'guest-tx', opt: ALL, nicOffload: true, paperMbps: 3310 },
  { id: 'guest-tx-vnic-nooffload', label: 'Guest transmit, virtual NIC only, NIC without csum/TSO', base: 'guest-tx', opt: VNIC, nicOffload: false, paperMbps: null },
  { id: 'guest-tx-all-nooffload', label: 'Guest transmit, all optimizations, NIC without csum/TSO', base: 'guest-tx', opt: ALL, nicOffload: false, paperMbps: null },
  { id: 'linux-rx', label: 'Linux receive', base: 'linux-rx', opt: {}, nicOffload: true, paperMbps: 2508 },
  { id: 'driver-rx', label: 'Driver domain receive, Xen 2.0', base: 'driver-rx', opt: {}, nicOffload: true, paperMbps: 1738 },
  { id: 'driver-rx-mem', label: 'Driver domain receive, superpages + global pages', base: 'driver-rx', opt: MEM, nicOffload: true, paperMbps: 2343 },
  { id: 'guest-rx', label: 'Guest receive, Xen 2.0', base: 'guest-rx', opt: {}, nicOffload: true, paperMbps: 820 },
  { id: 'guest-rx-vnic', label: 'Guest receive, high-level virtual NIC only', base: 'guest-rx', opt: VNIC, nicOffload: true, paperMbps: null },
  { id: 'guest-rx-io', label: 'Guest receive, I/O channel only', base: 'guest-rx', opt: IO, nicOffload: true, paperMbps: null },
  { id: 'guest-rx-mem', label: 'Guest receive, superpages + global pages only', base: 'guest-rx', opt: MEM, nicOffload: true, paperMbps: null },
  { id: 'guest-rx-all', label: 'Guest receive, all optimizations', base: 'guest-rx', opt: ALL, nicOffload: true, paperMbps: 970 },
];

/** Where the bundled scenarios live (the package's scenarios/ folder). */
export function scenarioDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'scenarios');
}

/** The configuration's scenario, with command-line values (--seed, --duration) applied and validated like values in a file. */
export function scenarioFor(c: PaperConfig, overrides: Override[] = []): Scenario {
  const sc = loadScenario(join(scenarioDir(), `${c.base}.yaml`));
  sc.name = c.id;
  Object.assign(sc.optimizations, c.opt);
  if (!c.nicOffload) Object.assign(sc.machine.nic, { csumOffload: false, tso: false });
  sc.paper = c.paperMbps ? { mbps: c.paperMbps, source: 'Menon et al. ATC 2006' } : undefined;
  if (!overrides.length) return sc;
  for (const o of overrides) setPath(sc as unknown as Record<string, unknown>, o.path, o.value);
  return parseScenario(sc, `configuration ${c.id}`, overrides);
}

/** Cost categories grouped the way the paper's breakdowns group them. */
export function groupOf(category: string): string {
  if (category === 'copy' || category === 'checksum') return 'copies';
  if (/^grant|pageTransfer|reservation|mmuUpdate|tlbFlush/.test(category)) return 'grant/page ops';
  if (category === 'tlbMiss') return 'TLB misses';
  if (category === 'domainSwitch' || category === 'cacheRefillPerSwitch') return 'domain switches';
  if (/^evtchn|pirq|interrupt|hypercall/.test(category)) return 'events/interrupts';
  if (/^tcp|skb|syscall|processWakeup/.test(category)) return 'TCP/IP stack';
  return 'drivers/bridge';
}
