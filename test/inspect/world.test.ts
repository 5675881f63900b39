/** How inspection tools group a world's actors by host (src/inspect/world.ts), over plain names and a few stand-in parts. */
import { expect } from 'chai';
import { accountsByCpu, groupByHost, hostNamesOf, hostOfActor, hostParts, wireOwners } from '../../src/inspect/world.js';
import type { Built } from '../../src/scenario/build.js';

const HOSTS = ['host1', 'host2', 'rack-b'];
/** A host of a world, as Built lists it (the hypervisor a stand-in). */
const host = (name: string, cpus: Built['cpus'] = []) => ({ name, cpus, dispatcher: { name: `${name}/xen` } as unknown as Built['host'] }) as NonNullable<Built['hosts']>[number];

describe('inspect/world: actors grouped by host', () => {
  it('an actor is its name\'s prefix\'s host only when that prefix is a host of the world', () => {
    expect(hostOfActor('host2/vif1.0-back', HOSTS)).to.equal('host2');
    expect(hostOfActor('rack-b/dom0', HOSTS)).to.equal('rack-b');
    expect(hostOfActor('sw0', HOSTS)).to.equal(null);
    expect(hostOfActor('host9/dom0', HOSTS)).to.equal(null); // not a host of this world
    expect(hostOfActor('/dom0', HOSTS)).to.equal(null);
    expect(hostOfActor('host1', HOSTS)).to.equal(null); // a bare host name is no actor of it
  });

  it('groups follow the world\'s host order, keep each group\'s order, skip empty hosts and put the rest last', () => {
    const names = ['sw0', 'host2/dom0', 'host1/dom0', 'host2/domU1', 'host1/eth0', 'sw1'];
    const g = groupByHost(names, (n) => n, HOSTS);
    expect(g).to.deep.equal([
      { host: 'host1', items: ['host1/dom0', 'host1/eth0'] },
      { host: 'host2', items: ['host2/dom0', 'host2/domU1'] },
      { host: null, items: ['sw0', 'sw1'] },
    ]);
    expect(groupByHost(['host1/dom0'], (n) => n, HOSTS)).to.deep.equal([{ host: 'host1', items: ['host1/dom0'] }]);
  });

  it('host names come from a world\'s hosts; a scenario of one host has none', () => {
    expect(hostNamesOf({ hosts: [host('a'), host('b')] })).to.deep.equal(['a', 'b']);
    expect(hostNamesOf({})).to.equal(null);
  });

  it('Xen\'s CPU time is sampled per host in a world, as `xen` on one host', () => {
    const [c1, c2, c3] = [{ id: 1 }, { id: 2 }, { id: 3 }] as unknown as Built['cpus'];
    expect(accountsByCpu({ hosts: [host('host1', [c1]), host('host2', [c2, c3])], cpus: [c1, c2, c3] }))
      .to.deep.equal([{ cpu: c1, xen: 'host1/xen' }, { cpu: c2, xen: 'host2/xen' }, { cpu: c3, xen: 'host2/xen' }]);
    expect(accountsByCpu({ cpus: [c1, c2] })).to.deep.equal([{ cpu: c1, xen: 'xen' }, { cpu: c2, xen: 'xen' }]);
  });

  it('a frame counts for the flow\'s end on the host of the NIC it crossed: a guest, dom0, never a peer or a switch', () => {
    const b = {
      nics: [{ name: 'host1/eth0' }, { name: 'host1/eth1' }, { name: 'host2/eth0' }],
      sc: { flows: [
        { from: 'host1/guest2', to: 'host2/dom0', kind: 'stream' },
        { from: 'host1/guest1', to: 'host1/peer2', kind: 'stream' },
      ] },
    } as unknown as Built;
    const owner = wireOwners(b, HOSTS);
    expect(owner(0, 'host1/eth0')).to.equal('host1/domU2');
    expect(owner(0, 'host2/eth0')).to.equal('host2/dom0');
    expect(owner(1, 'host1/eth1')).to.equal('host1/domU1');
    expect(owner(1, 'host2/eth0')).to.equal(undefined); // flow 1 has no end on host2
    expect(owner(0, 'sw0')).to.equal(undefined);
    expect(owner(1, 'host1/client1')).to.equal(undefined);
  });

  it('each host is instrumented with its own hypervisor, domains and NICs; one host with the scenario\'s', () => {
    const named = (...ns: string[]) => ns.map((name) => ({ name })) as unknown as Built['kernels'] & Built['nics'];
    const [h1, h2] = [host('host1'), host('host2')];
    const kernels = named('host1/dom0', 'host2/dom0', 'host1/domU1'), nics = named('host2/eth0', 'host1/eth0');
    const parts = hostParts({ hosts: [h1, h2], host: h1.dispatcher, kernels, nics });
    expect(parts.map((p) => [p.dispatcher, p.kernels.map((k) => k.name), p.nics.map((n) => n.name)])).to.deep.equal([
      [h1.dispatcher, ['host1/dom0', 'host1/domU1'], ['host1/eth0']],
      [h2.dispatcher, ['host2/dom0'], ['host2/eth0']],
    ]);
    const one = hostParts({ host: h1.dispatcher, kernels, nics });
    expect(one).to.have.length(1);
    expect(one[0].kernels).to.equal(kernels);
    expect(one[0].nics).to.equal(nics);
  });
});
