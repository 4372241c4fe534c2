import { z } from 'zod'
import { MODULE_PATTERN_RE, NAME_RE, SCOPE_RE } from './names.ts'
import { HMAC_KEY_RE, TOKEN_HASH_RE } from './secrets.ts'

/**
 * The credentials file (YAML or JSON). Objects are strict, so a misspelt key (`requireMAC`) is an
 * error naming its path instead of a silently ignored setting.
 */
const scope = z.string().regex(SCOPE_RE, { error: 'expected write:<pattern>, read:<pattern> or admin' })
const timestamp = z.iso.datetime({
  offset: true,
  error: 'expected an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z',
})
const tokenHash = z
  .string()
  .regex(TOKEN_HASH_RE, { error: 'expected hmac-sha256$<salt>$<digest> (store hashes, never tokens)' })

export const ModuleCredentialSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[A-Za-z0-9._:*-]{1,128}$/, { error: 'expected 1..128 characters of [A-Za-z0-9._:*-]' })
      .optional(),
    module: z.string().regex(MODULE_PATTERN_RE, {
      error: 'expected a module name or glob: 1..128 characters of [A-Za-z0-9._:-] and *',
    }),
    tokenHash: tokenHash.optional(),
    hmacKey: z
      .string()
      .regex(HMAC_KEY_RE, { error: 'expected 16..64 bytes as hex, or base64:<base64>' })
      .optional(),
    fingerprint: z.string().min(1).max(256).optional(),
    scopes: z.array(scope).default([]),
    expiresAt: timestamp.optional(),
    disabled: z.boolean().default(false),
    requireMac: z.boolean().default(false),
    createdAt: timestamp.optional(),
    rotatedAt: timestamp.optional(),
    comment: z.string().max(1024).optional(),
  })
  .refine((c) => c.tokenHash !== undefined || c.hmacKey !== undefined, {
    error: 'a module credential needs tokenHash, hmacKey or both',
  })

export const OperatorSchema = z.strictObject({
  name: z.string().regex(NAME_RE, { error: 'expected 1..128 characters of [A-Za-z0-9._:-]' }),
  tokenHash,
  scopes: z.array(scope).default([]),
  expiresAt: timestamp.optional(),
  disabled: z.boolean().default(false),
  createdAt: timestamp.optional(),
  rotatedAt: timestamp.optional(),
  comment: z.string().max(1024).optional(),
})

export const CredentialsFileSchema = z
  .strictObject({
    version: z.literal(1).default(1),
    modules: z.array(ModuleCredentialSchema).default([]),
    operators: z.array(OperatorSchema).default([]),
  })
  .superRefine((file, ctx) => {
    const ids = new Map<string, number>()
    const modules = new Map<string, number>()
    file.modules.forEach((c, i) => {
      const id = c.id ?? c.module
      const seenId = ids.get(id)
      if (seenId !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['modules', i, 'id'],
          message: `duplicate id ${id} (see modules[${seenId}])`,
        })
      else ids.set(id, i)
      const seenModule = modules.get(c.module)
      if (seenModule !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['modules', i, 'module'],
          message: `duplicate module ${c.module} (see modules[${seenModule}]); one entry per name or pattern`,
        })
      else modules.set(c.module, i)
    })
    const names = new Map<string, number>()
    file.operators.forEach((o, i) => {
      const seen = names.get(o.name)
      if (seen !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['operators', i, 'name'],
          message: `duplicate operator (see operators[${seen}])`,
        })
      else names.set(o.name, i)
    })
  })

export type ModuleCredentialEntry = z.output<typeof ModuleCredentialSchema>
export type OperatorEntry = z.output<typeof OperatorSchema>
export type CredentialsFile = z.output<typeof CredentialsFileSchema>

/** `modules[2].scopes[0]` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path)
    out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`
  return out === '' ? '(root)' : out
}

/** Validate parsed file content; returns the typed file or the list of `path: message` problems. */
export function validateCredentials(
  raw: unknown,
): { ok: true; file: CredentialsFile } | { ok: false; problems: string[] } {
  const result = CredentialsFileSchema.safeParse(raw ?? {})
  if (result.success) return { ok: true, file: result.data }
  return { ok: false, problems: result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`) }
}
