/** The layers of src/, bottom to top: [name, folders, what they hold]. A folder imports only its layer and those below. */
const LAYERS = [
  ['vocabulary', ['actors', 'model', 'core'], 'time and messages, the cost model, and the types every layer shares (packets, Exec/Task, Vcpu)'],
  ['hardware', ['hardware'], 'CPUs, TLBs, memory, NICs and the wire'],
  ['hypervisor', ['hypervisor'], 'Xen: scheduling, grant tables, event channels, domain lifecycle'],
  ['domains', ['domains', 'channels', 'hostile', 'peer'], 'guest and dom0 kernels, the split drivers, adversarial frontends, peer hosts on the wire'],
  ['toolstack', ['toolstack'], 'what xl and the hotplug scripts do: build hosts, domains, vifs and links'],
  ['scenario', ['scenario'], 'a scenario file, its schema, and the run of one scenario'],
  ['tools', ['plot', 'workers', 'results', 'paper', 'calibrate', 'stress', 'sweep', 'inspect'], 'what runs scenarios in bulk or looks at their results'],
  ['cli', ['cli'], 'the command line'],
];

module.exports = { LAYERS };
