import { readFileSync } from 'node:fs'

export interface Example {
  input: number[]
  score: number
  code: number[]
}

export const meta = JSON.parse(
  readFileSync(new URL('../../models/anomaly-8.json', import.meta.url), 'utf8'),
) as {
  fields: string[]
  examples: Example[]
}
export const FIELDS = meta.fields
export const EXAMPLES = meta.examples

/** A JSON body with the example's 8 values under the model's field names. */
export function jsonBody(input: number[]): Record<string, number> {
  return Object.fromEntries(FIELDS.map((f, i) => [f, input[i]!]))
}

export const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 + 1e-4 * Math.abs(b)
