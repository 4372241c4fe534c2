/**
 * Numeric fields out of JSON bodies. Only bodies that look like a JSON object are parsed; a body
 * that fails to parse, or a field that is absent or not a finite number, yields no point.
 */
const kDecoder = new TextDecoder('utf-8', { fatal: false })

export type FieldGetter = (obj: unknown) => number | undefined

export function compileField(path: string): FieldGetter {
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
export function parseObject(body: Uint8Array): unknown {
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
