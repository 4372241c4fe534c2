/**
 * Numeric fields out of JSON bodies. Only bodies that are a JSON object count; a body that fails to
 * parse, or a field that is absent or not a finite number, yields no point for that field.
 *
 * Plain top-level fields are read straight from the bytes by the SDK's byte reader (no
 * TextDecoder, no JSON.parse, no object: for a small sensor body that was the largest JS cost of
 * an apply); a body it declines, and dotted paths, go through JSON.parse with the same result.
 */
import { jsonFieldReader } from '@module-ingest/subscriber-sdk/json-fields'

const kDecoder = new TextDecoder('utf-8', { fatal: false })

/**
 * Writes field i's value of `body` to `out[i]`, NaN when it has none; returns false when the body
 * is not a JSON object (then `out` is unspecified).
 */
export type FieldsReader = (body: Uint8Array, out: Float64Array) => boolean

export function compileFields(fields: readonly string[]): FieldsReader {
  const getters = fields.map(compileField)
  const slow: FieldsReader = (body, out) => {
    const obj = parseObject(body)
    if (obj === undefined) return false
    for (let i = 0; i < getters.length; i++) out[i] = getters[i]!(obj) ?? Number.NaN
    return true
  }
  const fast = jsonFieldReader(fields)
  if (fast === undefined) return slow
  return (body, out) => fast(body, out, 0) >= 0 || slow(body, out)
}

function compileField(path: string): (obj: unknown) => number | undefined {
  const keys = path.split('.')
  return (obj) => {
    let v: unknown = obj
    for (const k of keys) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined
      v = (v as Record<string, unknown>)[k]
    }
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined
  }
}

/** The parsed object, or undefined when the body is not a JSON object. */
function parseObject(body: Uint8Array): unknown {
  // Skip leading whitespace; anything but '{' is not an object (cheap reject for binary bodies).
  let i = 0
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09))
    i++
  if (body[i] !== 0x7b) return undefined
  try {
    return JSON.parse(kDecoder.decode(body))
  } catch {
    return undefined
  }
}
