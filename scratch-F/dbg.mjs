import { parse } from 'yaml';
import { parseScenario } from '/work/wt-F/dist/src/scenario/schema.js';
import { build } from '/work/wt-F/dist/src/scenario/build.js';
const sc = parseScenario(parse(`
name: x
topology: guest
guests: 1
machine: { nics: 1 }
hosts: { host1: {}, host2: {} }
links: [{ a: host1/eth0, b: host2/eth0 }]
flows:
  - { from: host1/dom0, to: host2/dom0 }
  - { from: host2/guest1, to: host1/guest1 }
run: { warmupMs: 0, durationMs: 400 }
tcp: { rcvBufKiB: 256, sndBufKiB: 256 }
`));
const b = build(sc);
const k = (n) => b.kernels.find((q) => q.name === n);
const src = b.stacks.get(k('host1/dom0')), dst = b.stacks.get(k('host2/dom0'));
src.meter(0);
b.start();
b.sys.sched.run(20e9);
console.log(b.flowGoodput(0), b.flowGoodput(1));
src.supply(0, 1000000);
b.sys.sched.run(40e9);
console.log(b.flowGoodput(0), b.flowGoodput(1), dst.flowDelivered(0), b.counters.drops);
import { LogDirty } from '/work/wt-F/dist/src/hypervisor/log-dirty.js';
import { Migration } from '/work/wt-F/dist/src/toolstack/migration.js';
import { migrationMachine } from '/work/wt-F/dist/src/toolstack/migration-machine.js';
import { XC_SAVE_POLICY } from '/work/wt-F/dist/src/toolstack/precopy.js';
const guest = k('host1/domU1');
const actor = b.sys.spawn('host1/migration', 'migration', migrationMachine, { name: 'host1/migration' });
const log = new LogDirty(b.mem, guest.domid, () => []);
const m = new Migration({ sys: b.sys, actor, actorName: 'host1/migration', xen: b.xen, domid: guest.domid, log, policy: XC_SAVE_POLICY,
    stream: { flow: 0, from: src, to: dst }, diskMBps: 0, names: { guest: guest.name, from: 'host1', to: 'host2' },
    flows: [1], goodput: (f) => b.flowGoodput(f),
    resume: (done) => { b.xen.unpauseDomain(guest.domid); done(); },
    release: (done) => { done(); } });
m.start();
for (let t = 45; t < 200; t += 10) { b.sys.sched.run(t * 1e9); console.log(t, dst.flowDelivered(0), JSON.stringify(m.result)); }
