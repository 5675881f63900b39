/**
 * The Trace Event Format (the JSON object form Chrome's trace viewer and
 * Perfetto load), as a zod schema: what a file must satisfy to load, by
 * event phase. Used to check `xennet run --trace` output.
 */
import { z } from 'zod';

const id = z.union([z.string(), z.number()]);
const common = {
  name: z.string(),
  cat: z.string().optional(),
  pid: z.number().int().nonnegative(),
  tid: z.number().int().nonnegative(),
  ts: z.number().finite().nonnegative(),
  args: z.record(z.string(), z.unknown()).optional(),
};

export const traceEventSchema = z.discriminatedUnion('ph', [
  z.object({ ...common, ph: z.literal('X'), dur: z.number().finite().nonnegative() }).strict(),
  z.object({ ...common, ph: z.literal('B') }).strict(),
  z.object({ ...common, ph: z.literal('E') }).strict(),
  z.object({ ...common, ph: z.enum(['i', 'I']), s: z.enum(['g', 'p', 't']).optional() }).strict(),
  z.object({ ...common, ph: z.literal('C'), args: z.record(z.string(), z.number().finite()), id: id.optional() }).strict(),
  z.object({ ...common, ph: z.enum(['b', 'n', 'e']), id }).strict(),
  z.object({ ...common, ph: z.enum(['s', 't']), id }).strict(),
  z.object({ ...common, ph: z.literal('f'), id, bp: z.literal('e').optional() }).strict(),
  z.object({
    ...common,
    ph: z.literal('M'),
    name: z.enum(['process_name', 'process_labels', 'process_sort_index', 'thread_name', 'thread_sort_index']),
    args: z.union([z.object({ name: z.string() }).strict(), z.object({ sort_index: z.number().int() }).strict(), z.object({ labels: z.string() }).strict()]),
  }).strict(),
]);

export const traceFileSchema = z.object({
  traceEvents: z.array(traceEventSchema),
  displayTimeUnit: z.enum(['ms', 'ns']).optional(),
  otherData: z.record(z.string(), z.unknown()).optional(),
}).strict();

export type TraceEvent = z.infer<typeof traceEventSchema>;
