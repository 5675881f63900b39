/**
 * The scenario schema as JSON Schema (draft 2020-12), for editors and other tools. It is the
 * input side: fields with defaults are optional. Cross-field checks (memory, grant table, NIC
 * and guest numbers) and the power-of-two ring size exist only in the zod schema.
 */
import { z } from 'zod';
import { ScenarioSchema } from './schema.js';

export const SCHEMA_ID = 'urn:xennet:scenario';

export function scenarioJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(ScenarioSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    $schema, $id: SCHEMA_ID, title: 'xennet scenario',
    description: 'A scenario of the xennet emulator: machine, topology, workload, optimizations, faults and adversaries. `xennet run <file>` runs it.',
    ...rest,
  };
}

/** What `xennet schema` prints and xennet.schema.json holds. */
export const scenarioJsonSchemaText = (): string => JSON.stringify(scenarioJsonSchema(), null, 2) + '\n';
