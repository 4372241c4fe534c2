import { type ZodType, z } from 'zod'
import type { FieldMeta } from './schema.ts'

/** A schema seen through its wrappers (optional, default, prefault, pipe): what the walkers need. */
export interface FieldInfo {
  base: ZodType
  kind: string
  optional: boolean
  hasDefault: boolean
  defaultValue?: unknown
  meta: Partial<FieldMeta>
}

type Def = { type: string; innerType?: ZodType; in?: ZodType; defaultValue?: unknown }

export function inspect(schema: ZodType): FieldInfo {
  const meta: Partial<FieldMeta> = {}
  let optional = false
  let hasDefault = false
  let defaultValue: unknown
  let s = schema
  for (;;) {
    // Outer layers win: a field's description is set on its outermost wrapper.
    const m = z.globalRegistry.get(s) as Partial<FieldMeta> | undefined
    if (m) for (const [k, v] of Object.entries(m)) if (!(k in meta)) (meta as Record<string, unknown>)[k] = v
    const def = s._zod.def as unknown as Def
    if (def.type === 'optional') {
      optional = true
      s = def.innerType as ZodType
    } else if (def.type === 'default' || def.type === 'prefault') {
      hasDefault = true
      if (defaultValue === undefined) defaultValue = def.defaultValue
      s = def.innerType as ZodType
    } else if (def.type === 'pipe') {
      s = def.in as ZodType
    } else break
  }
  return { base: s, kind: (s._zod.def as unknown as Def).type, optional, hasDefault, defaultValue, meta }
}

export function objectShape(schema: ZodType): Record<string, ZodType> {
  return (schema as unknown as { shape: Record<string, ZodType> }).shape
}

export function arrayElement(schema: ZodType): ZodType {
  return (schema._zod.def as unknown as { element: ZodType }).element
}

export function unionOptions(schema: ZodType): ZodType[] {
  return (schema._zod.def as unknown as { options: ZodType[] }).options
}
