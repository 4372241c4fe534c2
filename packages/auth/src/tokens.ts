import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { type Document, isMap, isSeq, stringify, type YAMLMap } from 'yaml'
import { type CredentialOverlap, credentialId, credentialOverlaps } from './credential-set.ts'
import { isJsonPath, parseCredentials, serialize, withFileLock, writeFileAtomic } from './credentials-file.ts'
import {
  MI_ERR_AUTH_CREDENTIAL_EXISTS,
  MI_ERR_AUTH_CREDENTIAL_NOT_FOUND,
  MI_ERR_AUTH_OPTION_INVALID,
} from './errors.ts'
import { MODULE_PATTERN_RE, NAME_RE, SCOPE_RE } from './names.ts'
import type { CredentialsFile } from './schema.ts'
import { generateHmacKey, generateToken, hashToken, OPERATOR_TOKEN_PREFIX } from './secrets.ts'

/**
 * Credential management for the CLI (`module-ingest token create|list|revoke|rotate`).
 * Every change is lock → read → edit the YAML document (comments and order survive) → validate the
 * whole result → atomic write (0600). Secrets are returned once and never stored: tokens as a
 * salted hash, HMAC keys as-is (the server needs the key itself to check proofs).
 */

export interface CreateTokenOptions {
  /** Module name or glob (`sensor-*`). */
  module: string
  scopes: string[]
  kind: 'token' | 'hmac'
  /** ISO 8601 string or Date. */
  expiresAt?: string | Date
  fingerprint?: string
  requireMac?: boolean
  comment?: string
  /** Default: `c_` + 12 random hex digits. */
  id?: string
}

export interface CreatedCredential {
  id: string
  module: string
  kind: 'token' | 'hmac'
  /** The bearer token (`mi_…`) or the HMAC key (64 hex digits). Shown once; not recoverable. */
  secret: string
  /**
   * Existing entries matching some of the same modules, and which side now governs those modules
   * (the most specific entry: see resolveCredential). Empty when the new entry overlaps nothing.
   */
  overlaps: CredentialOverlap[]
}

export interface CredentialSummary {
  id: string
  module: string
  /** Which secrets the entry holds: never the secrets themselves. */
  kinds: Array<'token' | 'hmac'>
  scopes: string[]
  fingerprint?: string
  expiresAt?: string
  expired: boolean
  disabled: boolean
  requireMac: boolean
  createdAt?: string
  rotatedAt?: string
  comment?: string
}

export interface RotatedCredential {
  id: string
  module: string
  /** New bearer token when the entry holds one. */
  token?: string
  /** New HMAC key when the entry holds one. */
  hmacKey?: string
}

function isoOf(value: string | Date | undefined, option: string): string | undefined {
  if (value === undefined) return undefined
  const ms = value instanceof Date ? value.getTime() : Date.parse(value)
  if (Number.isNaN(ms)) throw new MI_ERR_AUTH_OPTION_INVALID(option, 'expected an ISO 8601 date-time')
  return new Date(ms).toISOString()
}

function nowIso(): string {
  return new Date().toISOString()
}

interface Editable {
  path: string
  file: CredentialsFile
  doc: Document
  json: boolean
}

async function readEditable(path: string, createIfMissing: boolean): Promise<Editable> {
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !createIfMissing) throw err
    text = ''
  }
  const parsed = parseCredentials(text, path)
  const doc = parsed.doc
  if (!isMap(doc.contents)) doc.contents = doc.createNode({ version: 1 }) as unknown as typeof doc.contents
  for (const key of ['modules', 'operators']) {
    if (!isSeq(doc.getIn([key]))) doc.setIn([key], doc.createNode([]))
  }
  return { path, file: parsed.file, doc, json: parsed.json }
}

async function commit(ed: Editable): Promise<void> {
  const text = serialize(ed.doc, ed.json)
  parseCredentials(text, ed.path) // never write a file the server would refuse
  await writeFileAtomic(ed.path, text)
}

async function edit<T>(path: string, createIfMissing: boolean, fn: (ed: Editable) => T): Promise<T> {
  const abs = resolvePath(path)
  return withFileLock(abs, async () => {
    const ed = await readEditable(abs, createIfMissing)
    const result = fn(ed)
    await commit(ed)
    return result
  })
}

function checkScopes(scopes: unknown): string[] {
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string' && SCOPE_RE.test(s))) {
    throw new MI_ERR_AUTH_OPTION_INVALID(
      'scopes',
      'expected an array of write:<pattern>, read:<pattern> or admin',
    )
  }
  return [...scopes]
}

/** Add a module credential; returns the secret once. Throws MI_ERR_AUTH_CREDENTIAL_EXISTS for a duplicate module or id. */
export async function createToken(path: string, options: CreateTokenOptions): Promise<CreatedCredential> {
  const { module, kind } = options
  if (typeof module !== 'string' || !MODULE_PATTERN_RE.test(module))
    throw new MI_ERR_AUTH_OPTION_INVALID(
      'module',
      'expected a module name or glob (1..128 of [A-Za-z0-9._:-] and *)',
    )
  if (kind !== 'token' && kind !== 'hmac')
    throw new MI_ERR_AUTH_OPTION_INVALID('kind', "expected 'token' or 'hmac'")
  const scopes = checkScopes(options.scopes)
  const expiresAt = isoOf(options.expiresAt, 'expiresAt')
  const id = options.id ?? `c_${randomBytes(6).toString('hex')}`
  const secret = kind === 'token' ? generateToken() : generateHmacKey()
  let overlaps: CredentialOverlap[] = []
  await edit(path, true, (ed) => {
    if (ed.file.modules.some((c) => c.module === module)) throw new MI_ERR_AUTH_CREDENTIAL_EXISTS(module)
    if (ed.file.modules.some((c) => credentialId(c) === id)) throw new MI_ERR_AUTH_CREDENTIAL_EXISTS(id)
    const entry: Record<string, unknown> = { id, module }
    if (kind === 'token') entry.tokenHash = hashToken(secret)
    else entry.hmacKey = secret
    entry.scopes = scopes
    if (options.fingerprint !== undefined) entry.fingerprint = options.fingerprint
    if (expiresAt !== undefined) entry.expiresAt = expiresAt
    if (options.requireMac) entry.requireMac = true
    if (options.comment !== undefined) entry.comment = options.comment
    entry.createdAt = nowIso()
    overlaps = credentialOverlaps(ed.file.modules, module)
    ed.doc.addIn(['modules'], ed.doc.createNode(entry))
  })
  return { id, module, kind, secret, overlaps }
}

function summarize(file: CredentialsFile, now: number): CredentialSummary[] {
  return file.modules.map((c) => {
    const s: CredentialSummary = {
      id: credentialId(c),
      module: c.module,
      kinds: [...(c.tokenHash ? (['token'] as const) : []), ...(c.hmacKey ? (['hmac'] as const) : [])],
      scopes: [...c.scopes],
      expired: c.expiresAt !== undefined && now >= Date.parse(c.expiresAt),
      disabled: c.disabled,
      requireMac: c.requireMac,
    }
    if (c.fingerprint !== undefined) s.fingerprint = c.fingerprint
    if (c.expiresAt !== undefined) s.expiresAt = c.expiresAt
    if (c.createdAt !== undefined) s.createdAt = c.createdAt
    if (c.rotatedAt !== undefined) s.rotatedAt = c.rotatedAt
    if (c.comment !== undefined) s.comment = c.comment
    return s
  })
}

/** Module credentials without any secret material. A missing file lists as empty. */
export async function listCredentials(path: string): Promise<CredentialSummary[]> {
  let text: string
  try {
    text = await fs.readFile(resolvePath(path), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return summarize(parseCredentials(text, path).file, Date.now())
}

function findIndex(file: CredentialsFile, idOrModule: string): number {
  const byId = file.modules.findIndex((c) => credentialId(c) === idOrModule)
  if (byId !== -1) return byId
  const byModule = file.modules.findIndex((c) => c.module === idOrModule)
  if (byModule === -1) throw new MI_ERR_AUTH_CREDENTIAL_NOT_FOUND(idOrModule)
  return byModule
}

/**
 * Delete a credential (by id, else by exact module string) and its secret material from the file.
 * A running server's watcher picks the change up; sessions it admitted end (README "Live sessions").
 * Note a module that also matches a pattern entry can still authenticate with the pattern's secret.
 */
export async function revoke(path: string, idOrModule: string): Promise<CredentialSummary> {
  return edit(path, false, (ed) => {
    const i = findIndex(ed.file, idOrModule)
    const summary = summarize(ed.file, Date.now())[i]!
    ed.doc.deleteIn(['modules', i])
    return summary
  })
}

/** Replace the secret(s) of a credential (by id, else exact module); returns the new ones once. */
export async function rotate(path: string, idOrModule: string): Promise<RotatedCredential> {
  return edit(path, false, (ed) => {
    const i = findIndex(ed.file, idOrModule)
    const c = ed.file.modules[i]!
    const out: RotatedCredential = { id: credentialId(c), module: c.module }
    const node = ed.doc.getIn(['modules', i]) as YAMLMap
    if (c.tokenHash !== undefined) {
      out.token = generateToken()
      node.set('tokenHash', hashToken(out.token))
    }
    if (c.hmacKey !== undefined) {
      out.hmacKey = generateHmacKey()
      node.set('hmacKey', out.hmacKey)
    }
    node.set('rotatedAt', nowIso())
    return out
  })
}

/** Add an operator (admin interface user); returns the bearer token (`miop_…`) once. */
export async function createOperator(
  path: string,
  options: { name: string; scopes: string[]; expiresAt?: string | Date; comment?: string },
): Promise<{ name: string; token: string }> {
  if (typeof options.name !== 'string' || !NAME_RE.test(options.name))
    throw new MI_ERR_AUTH_OPTION_INVALID('name', 'expected 1..128 characters of [A-Za-z0-9._:-]')
  const scopes = checkScopes(options.scopes)
  const expiresAt = isoOf(options.expiresAt, 'expiresAt')
  const token = generateToken(OPERATOR_TOKEN_PREFIX)
  await edit(path, true, (ed) => {
    if (ed.file.operators.some((o) => o.name === options.name))
      throw new MI_ERR_AUTH_CREDENTIAL_EXISTS(options.name)
    const entry: Record<string, unknown> = { name: options.name, tokenHash: hashToken(token), scopes }
    if (expiresAt !== undefined) entry.expiresAt = expiresAt
    if (options.comment !== undefined) entry.comment = options.comment
    entry.createdAt = nowIso()
    ed.doc.addIn(['operators'], ed.doc.createNode(entry))
  })
  return { name: options.name, token }
}

/** Operators without their token hashes. */
export async function listOperators(
  path: string,
): Promise<Array<{ name: string; scopes: string[]; disabled: boolean; expiresAt?: string }>> {
  const text = await fs.readFile(resolvePath(path), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return ''
    throw err
  })
  return parseCredentials(text, path).file.operators.map((o) => ({
    name: o.name,
    scopes: [...o.scopes],
    disabled: o.disabled,
    ...(o.expiresAt !== undefined ? { expiresAt: o.expiresAt } : {}),
  }))
}

/** Remove an operator by name. */
export async function revokeOperator(path: string, name: string): Promise<void> {
  await edit(path, false, (ed) => {
    const i = ed.file.operators.findIndex((o) => o.name === name)
    if (i === -1) throw new MI_ERR_AUTH_CREDENTIAL_NOT_FOUND(name)
    ed.doc.deleteIn(['operators', i])
  })
}

const kDevHeader = `# module-ingest credentials. Holds secrets: keep it mode 0600.
# Manage with: module-ingest token create|list|revoke|rotate
`

/**
 * First start: when `path` does not exist, create it (0600) with one development credential —
 * id \`dev\`, module \`*\` (any module name), scope \`write:*\`, token method — and return the token
 * once so the server can print it. Revoke it (\`module-ingest token revoke dev\`) before production.
 * Returns `{ created: false }` when the file exists, whatever it holds.
 */
export async function ensureDevCredential(
  path: string,
  options: { module?: string; scopes?: string[] } = {},
): Promise<{ created: true; id: string; module: string; token: string } | { created: false }> {
  const abs = resolvePath(path)
  const exists = await fs.stat(abs).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false
      throw err
    },
  )
  if (exists) return { created: false }
  const module = options.module ?? '*'
  const token = generateToken()
  const created = await withFileLock(abs, async () => {
    // Re-check under the lock: a concurrent first start may have won.
    if (
      await fs.stat(abs).then(
        () => true,
        () => false,
      )
    )
      return false
    const entry = {
      id: 'dev',
      module,
      tokenHash: hashToken(token),
      scopes: options.scopes ?? ['write:*'],
      comment: 'development credential created on first start: revoke before production',
      createdAt: nowIso(),
    }
    const content = { version: 1, modules: [entry], operators: [] }
    const text = isJsonPath(abs)
      ? `${JSON.stringify(content, null, 2)}\n`
      : `${kDevHeader}${stringify(content, { lineWidth: 0 })}`
    parseCredentials(text, abs)
    await writeFileAtomic(abs, text)
    return true
  })
  return created ? { created: true, id: 'dev', module, token } : { created: false }
}
