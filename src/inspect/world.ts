/**
 * A world of hosts as the inspection tools show it: every actor belongs to the host whose name
 * prefixes it (`host2/vif1.0-back` is host2's), or to none (a switch, `sw0`); tools list the
 * hosts' actors host by host, in the scenario's order.
 */
import type { Built } from '../scenario/build.js';
import { flowEnds } from '../scenario/host.js';

/** The world's host names in order, or null for a scenario of one host. */
export const hostNamesOf = (b: Pick<Built, 'hosts'>): string[] | null => b.hosts?.map((h) => h.name) ?? null;

/** The host an actor (or domain) belongs to: its name's prefix when that is a host of the world, else null. */
export function hostOfActor(name: string, hosts: readonly string[]): string | null {
  const k = name.indexOf('/');
  return k > 0 && hosts.includes(name.slice(0, k)) ? name.slice(0, k) : null;
}

/** Items grouped by host, in the world's host order (each group keeping the items' order), then those of no host. */
export function groupByHost<T>(items: readonly T[], nameOf: (t: T) => string, hosts: readonly string[]): Array<{ host: string | null; items: T[] }> {
  const groups = new Map<string | null, T[]>([...hosts.map((h) => [h, []] as [string, T[]]), [null, []]]);
  for (const it of items) groups.get(hostOfActor(nameOf(it), hosts))!.push(it);
  return [...groups].filter(([, xs]) => xs.length).map(([host, xs]) => ({ host, items: xs }));
}

/**
 * Who a frame on a world's wire counts for (xentop's NETTX/NETRX): the domain at the flow's end on
 * the host of the NIC that sent or received it; none for a switch, a peer, or a flow's end elsewhere.
 */
export function wireOwners(b: Built, hosts: readonly string[]): (flow: number, actor: string) => string | undefined {
  const nicHost = new Map(b.nics.map((n) => [n.name, hostOfActor(n.name, hosts)]));
  const owner = new Map<string, string>();
  flowEnds(b.sc.flows!, hosts).forEach((fl, f) => {
    for (const e of [fl.from, fl.to]) if (e.peer < 0) owner.set(`${f}|${hosts[e.host]}`, `${hosts[e.host]}/${e.dom0 ? 'dom0' : `domU${e.guest + 1}`}`);
  });
  return (flow, actor) => { const h = nicHost.get(actor); return h ? owner.get(`${flow}|${h}`) : undefined; };
}

/** The account a CPU's ledger entry is shown under: Xen's per host in a world (`host1/xen`), every other as it is. */
export function accountsByCpu(b: Pick<Built, 'hosts' | 'cpus'>): Array<{ cpu: Built['cpus'][number]; xen: string }> {
  return b.hosts ? b.hosts.flatMap((h) => h.cpus.map((cpu) => ({ cpu, xen: `${h.name}/xen` }))) : b.cpus.map((cpu) => ({ cpu, xen: 'xen' }));
}

/** Each host's hypervisor (or bare-metal dispatcher), domains and NICs: the world's hosts, or the one host. */
export function hostParts(b: Pick<Built, 'hosts' | 'host' | 'kernels' | 'nics'>): Array<{ dispatcher: Built['host']; kernels: Built['kernels']; nics: Built['nics'] }> {
  if (!b.hosts) return [{ dispatcher: b.host, kernels: b.kernels, nics: b.nics }];
  const names = b.hosts.map((h) => h.name);
  const mine = <T extends { name: string }>(xs: readonly T[], h: string) => xs.filter((x) => hostOfActor(x.name, names) === h);
  return b.hosts.map((h) => ({ dispatcher: h.dispatcher, kernels: mine(b.kernels, h.name), nics: mine(b.nics, h.name) }));
}
