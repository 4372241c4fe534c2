import { jsonFieldReader } from '@module-ingest/subscriber-sdk/json-fields'
import { unpack } from 'msgpackr'
import type { MappingConfig } from './config.ts'

/**
 * Writes one record's features into `out` at `offset` and returns undefined, or returns why the
 * body does not fit (the caller counts and reports it; a bad record never throws).
 */
export type FeatureMapper = (body: Uint8Array, out: Float32Array, offset: number) => string | undefined

export interface CompiledMapping {
  /** Values per record. */
  width: number
  map: FeatureMapper
}

const decoder = new TextDecoder('utf-8', { fatal: true })
const kMaxDocumentBytes = 1 << 20

function compilePath(path: string): (doc: unknown) => unknown {
  const parts = path.split('.')
  if (parts.length === 1) return (doc) => (doc as Record<string, unknown> | null)?.[path]
  return (doc) => {
    let v = doc
    for (const p of parts) {
      if (v === null || typeof v !== 'object') return undefined
      v = (v as Record<string, unknown>)[p]
    }
    return v
  }
}

function fromDocument(m: MappingConfig, decode: (body: Uint8Array) => unknown): FeatureMapper {
  const read = (body: Uint8Array): unknown => {
    if (body.byteLength === 0) throw new Error('empty body')
    if (body.byteLength > kMaxDocumentBytes) throw new Error(`body of ${body.byteLength} bytes is too large`)
    return decode(body)
  }
  if (m.fields) {
    const fields = m.fields
    const getters = fields.map(compilePath)
    return (body, out, offset) => {
      let doc: unknown
      try {
        doc = read(body)
      } catch (err) {
        return `not ${m.format}: ${(err as Error).message}`
      }
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return `not a ${m.format} object`
      for (let i = 0; i < getters.length; i++) {
        const v = getters[i]!(doc)
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          return v === undefined
            ? `field ${fields[i]} is missing`
            : `field ${fields[i]} is not a finite number`
        }
        out[offset + i] = v
      }
      return undefined
    }
  }
  const length = m.length!
  return (body, out, offset) => {
    let doc: unknown
    try {
      doc = read(body)
    } catch (err) {
      return `not ${m.format}: ${(err as Error).message}`
    }
    if (!Array.isArray(doc)) return `not a ${m.format} array`
    if (doc.length !== length) return `array of ${doc.length} values, expected ${length}`
    for (let i = 0; i < length; i++) {
      const v = doc[i]
      if (typeof v !== 'number' || !Number.isFinite(v)) return `value ${i} is not a finite number`
      out[offset + i] = v
    }
    return undefined
  }
}

function fromF32le(length: number): FeatureMapper {
  const bytes = length * 4
  return (body, out, offset) => {
    if (body.byteLength !== bytes) return `f32le body of ${body.byteLength} bytes, expected ${bytes}`
    // Bodies share one buffer at any byte offset: DataView reads unaligned floats.
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
    for (let i = 0; i < length; i++) {
      const v = view.getFloat32(i * 4, true)
      if (!Number.isFinite(v)) return `value ${i} is not finite`
      out[offset + i] = v
    }
    return undefined
  }
}

export function compileMapping(m: MappingConfig): CompiledMapping {
  const width = m.fields?.length ?? m.length!
  if (m.format === 'f32le') return { width, map: fromF32le(width) }
  if (m.format === 'msgpack') return { width, map: fromDocument(m, (b) => unpack(b)) }
  const slow = fromDocument(m, (b) => JSON.parse(decoder.decode(b)))
  const fast = m.fields ? jsonFieldReader(m.fields) : undefined
  if (!fast) return { width, map: slow }
  // The byte reader takes the flat objects sensors send; anything it does not decode exactly
  // (and every body that does not fit) goes through JSON.parse, which also words the error.
  return {
    width,
    map: (body, out, offset) =>
      body.byteLength <= kMaxDocumentBytes && fast(body, out, offset) === width
        ? undefined
        : slow(body, out, offset),
  }
}
