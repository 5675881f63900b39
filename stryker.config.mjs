// Mutation testing (issue 14): `npm run mutate`. Not part of `npm test` or CI.
// Stryker mutates the TypeScript sources in a sandbox with all mutants switched in (mutant schemata),
// `tsc` compiles the sandbox once, and mocha runs the compiled unit-level tests from dist/test.
// See docs/mutation.md for the score, the accepted survivors and how to run one module at a time.
// The fast test subset: unit tests of the mutated modules first (so most mutants die on a
// millisecond test), then the short system-level suites that drive netback, netfront and Xen
// through real runs with every invariant of src/stress as the oracle (hostile guests H1-H26,
// the vif machines, domain lifecycle, the XenBus handshake). The 2-minute stress suite and the
// throughput-shape suites (mechanisms, paper) are left out. MUTATE_TESTS=unit keeps only the unit
// tests, for quick iteration on ring/tlb/event-channel/grant-table (a lower bound on the score).
const UNIT = [
  'dist/test/ring.test.js',
  'dist/test/tlb.test.js',
  'dist/test/event-channel.test.js',
  'dist/test/grant-table.test.js',
  'dist/test/mutation-*.test.js',
];
const SYSTEM = [
  'dist/test/xenstore.test.js',
  'dist/test/lifecycle.test.js',
  'dist/test/vif-machines.test.js',
  'dist/test/hostile.test.js',
];
const SPEC = process.env.MUTATE_TESTS === 'unit' ? UNIT : [...UNIT, ...SYSTEM];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'mocha',
  mutate: ['src/channels/**/*.ts', 'src/hypervisor/**/*.ts', 'src/hardware/tlb.ts'],
  // Mutant switching puts every mutant into one build; Stryker adds `// @ts-nocheck` to mutated files.
  buildCommand: 'tsc -p tsconfig.json',
  mochaOptions: { spec: SPEC },
  coverageAnalysis: 'perTest',
  // Module-level constants (status tables, event objects) would need the whole subset per mutant.
  ignoreStatic: true,
  ignorePatterns: ['dist', 'reports', 'out', '.stryker-tmp', '*.log'],
  tempDirName: '.stryker-tmp',
  concurrency: 2,
  timeoutMS: 10000,
  timeoutFactor: 2,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  thresholds: { high: 90, low: 85, break: null },
};
