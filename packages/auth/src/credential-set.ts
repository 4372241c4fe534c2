import { createHash } from 'node:crypto'
import { compareSpecificity, globMatch, patternsOverlap } from './names.ts'
import type { CredentialsFile, ModuleCredentialEntry } from './schema.ts'
import { fingerprintDigest, parseHmacKey, parseTokenHash, type TokenDigest } from './secrets.ts'

/** One module credential, compiled for verification. Never leaves the store. */
export interface CompiledCredential {
  readonly id: string
  readonly pattern: string
  readonly exact: boolean
  readonly token: TokenDigest | undefined
  readonly hmacKey: Buffer | undefined
  readonly fingerprint: Buffer | undefined
  readonly scopes: readonly string[]
  readonly expiresAtMs: number | undefined
  readonly disabled: boolean
  readonly requireMac: boolean
  /** Content hash of the entry: any edit (secret, scopes, fingerprint, flags) changes it. */
  readonly revision: string
}

export interface CompiledOperator {
  readonly name: string
  readonly token: TokenDigest
  readonly scopes: readonly string[]
  readonly expiresAtMs: number | undefined
  readonly disabled: boolean
}

export interface CredentialSet {
  readonly contentHash: string
  readonly exact: ReadonlyMap<string, CompiledCredential>
  readonly patterns: readonly CompiledCredential[]
  readonly byId: ReadonlyMap<string, CompiledCredential>
  readonly operators: readonly CompiledOperator[]
}

export function credentialId(entry: ModuleCredentialEntry): string {
  return entry.id ?? entry.module
}

function revisionOf(entry: ModuleCredentialEntry): string {
  // Timestamps and comments are bookkeeping, not authority: editing them must not end sessions.
  const { createdAt: _c, comment: _m, ...rest } = entry
  const keys = Object.keys(rest).sort()
  return createHash('sha256').update(JSON.stringify(rest, keys)).digest('base64url').slice(0, 22)
}

export function compileCredentials(file: CredentialsFile, text: string): CredentialSet {
  const exact = new Map<string, CompiledCredential>()
  const patterns: CompiledCredential[] = []
  const byId = new Map<string, CompiledCredential>()
  for (const entry of file.modules) {
    const compiled: CompiledCredential = Object.freeze({
      id: credentialId(entry),
      pattern: entry.module,
      exact: !entry.module.includes('*'),
      token: entry.tokenHash === undefined ? undefined : parseTokenHash(entry.tokenHash),
      hmacKey: entry.hmacKey === undefined ? undefined : parseHmacKey(entry.hmacKey),
      fingerprint: entry.fingerprint === undefined ? undefined : fingerprintDigest(entry.fingerprint),
      scopes: Object.freeze([...entry.scopes]),
      expiresAtMs: entry.expiresAt === undefined ? undefined : Date.parse(entry.expiresAt),
      disabled: entry.disabled,
      requireMac: entry.requireMac,
      revision: revisionOf(entry),
    })
    byId.set(compiled.id, compiled)
    if (compiled.exact) exact.set(compiled.pattern, compiled)
    else patterns.push(compiled)
  }
  const operators = file.operators.map((o) =>
    Object.freeze({
      name: o.name,
      token: parseTokenHash(o.tokenHash),
      scopes: Object.freeze([...o.scopes]),
      expiresAtMs: o.expiresAt === undefined ? undefined : Date.parse(o.expiresAt),
      disabled: o.disabled,
    }),
  )
  return {
    contentHash: createHash('sha256').update(text).digest('base64url'),
    exact,
    patterns,
    byId,
    operators,
  }
}

/**
 * The credential that governs `module`: the most specific entry that matches. An exact entry wins
 * over every pattern; among patterns the one with the most literal (non-`*`) characters wins, then
 * the one with fewer `*`, then the first in file order. So `sensor-*` governs `sensor-1` even with
 * the development credential `*` still present, and disabling `sensor-7` blocks it even when
 * `sensor-*` would admit it. Every pattern is tried so lookup cost does not depend on which matched.
 */
export function resolveCredential(set: CredentialSet, module: string): CompiledCredential | undefined {
  const exact = set.exact.get(module)
  let best: CompiledCredential | undefined
  for (const c of set.patterns) {
    if (
      globMatch(c.pattern, module) &&
      (best === undefined || compareSpecificity(c.pattern, best.pattern) > 0)
    )
      best = c
  }
  return exact ?? best
}

/** How a new entry relates to an existing one that matches some of the same modules. */
export interface CredentialOverlap {
  id: string
  module: string
  /** `shadows`: the overlapping modules now use the new entry; `shadowed-by`: they keep using this one. */
  relation: 'shadows' | 'shadowed-by'
}

/**
 * The existing entries that a new `module` pattern overlaps, and which side governs the modules
 * both match (the rule of resolveCredential; an existing entry wins a tie, being earlier in the file).
 */
export function credentialOverlaps(
  entries: readonly ModuleCredentialEntry[],
  module: string,
): CredentialOverlap[] {
  const out: CredentialOverlap[] = []
  const isExact = (p: string) => !p.includes('*')
  for (const e of entries) {
    if (e.module === module || !patternsOverlap(e.module, module)) continue
    let newWins: boolean
    if (isExact(module) !== isExact(e.module)) newWins = isExact(module)
    else newWins = compareSpecificity(module, e.module) > 0
    out.push({ id: credentialId(e), module: e.module, relation: newWins ? 'shadows' : 'shadowed-by' })
  }
  return out
}
