/**
 * The configurations of Menon, Cox & Zwaenepoel (USENIX ATC 2006): the scenario files under
 * scenarios/paper/, in the order of their file names (NN-id.yaml). Each is a full scenario whose
 * `paper` block holds its label and the paper's measured figure it is compared with.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario, ScenarioError, type Override, type Scenario } from '../scenario/schema.js';

export interface PaperConfig {
  id: string;
  label: string;
  /** The scenario file. */
  file: string;
  paperMbps: number | null;
}

/** Where the bundled scenarios live (the package's scenarios/ folder). */
export function scenarioDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'scenarios');
}

let cached: PaperConfig[] | undefined;

/** The paper's configurations, read from scenarios/paper/ once. */
export function paperConfigs(): PaperConfig[] {
  return (cached ??= readPaperConfigs(join(scenarioDir(), 'paper')));
}

export function readPaperConfigs(dir: string): PaperConfig[] {
  const files = readdirSync(dir).filter((n) => /^\d+-.+\.yaml$/.test(n)).sort();
  return files.map((n) => {
    const file = join(dir, n);
    const sc = loadScenario(file);
    const id = n.replace(/^\d+-/, '').replace(/\.yaml$/, '');
    if (sc.name !== id) throw new ScenarioError(`${file}: field name: ${sc.name} differs from the file's configuration id ${id}`);
    if (!sc.paper?.label) throw new ScenarioError(`${file}: field paper.label: a paper configuration needs a label`);
    return { id, label: sc.paper.label, file, paperMbps: sc.paper.mbps ?? null };
  });
}

/** The configuration's scenario, with command-line values (--seed, --duration) applied and validated like values in the file. */
export function scenarioFor(c: PaperConfig, overrides: Override[] = []): Scenario {
  return loadScenario(c.file, overrides);
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

/** Every group groupOf returns, in the order plots stack and list them. */
export const GROUPS = ['TCP/IP stack', 'copies', 'grant/page ops', 'TLB misses', 'domain switches', 'events/interrupts', 'drivers/bridge'] as const;
/** One distinct colour per group (Tableau 10's first seven), shared by every plot. */
export const GROUP_COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1'] as const;
