import { z } from 'zod'

/** Options under `subscribers[].options` in the server config. */
export const anomalyConfigSchema = z
  .strictObject({
    /** Emit when |z| ≥ threshold (standard deviations from the rolling mean). */
    threshold: z.number().positive().default(3),
    /** Samples in the rolling window, per (module, stream). */
    windowSize: z.number().int().min(2).max(1_000_000).default(100),
    /** Do not score until the window holds this many samples. */
    minSamples: z.number().int().min(2).default(10),
    /** Derived stream the scores are emitted to. */
    outputStream: z.string().min(1).max(255).default('ai.scores'),
    /** (module, stream) keys kept; the least recently seen is dropped beyond this. */
    maxKeys: z.number().int().positive().default(10_000),
  })
  .refine((c) => c.minSamples <= c.windowSize, {
    message: 'minSamples must not exceed windowSize',
    path: ['minSamples'],
  })
  // prefault, not default: `{}` goes through the schema so the field defaults apply.
  .prefault({})

export type AnomalyConfig = z.output<typeof anomalyConfigSchema>
