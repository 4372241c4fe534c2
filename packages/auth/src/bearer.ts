/**
 * Operator authorization for the HTTP read APIs (kv, index, …): the token of an
 * `Authorization: Bearer <token>` header, checked by the caller's live operator set, turned into
 * the name patterns the operator may read (`read:<pattern>` scopes; `admin` reads everything).
 *
 * Its own entry point (`@module-ingest/auth/bearer`) with no imports, so a plugin package that
 * serves a read API does not load the credentials file code (yaml, zod) into its workers.
 */

/** The shape of `CredentialStore.verifyOperator` (and the engine's live `verifyOperator`). */
export type VerifyOperator = (
  token: string,
) => { ok: true; operator: { name: string; scopes: readonly string[] } } | { ok: false; reason: string }

/** Granted: the read patterns. Refused: the HTTP status (401 who are you, 403 not allowed) and why. */
export type ReadAccess =
  | { ok: true; operator: string; patterns: string[] }
  | { ok: false; status: 401 | 403; message: string }

/**
 * `scopeHint` names the scope in the 403 message (`read:`, `read:<stream>`), so the operator
 * learns what to add to the credentials file.
 */
export function bearerReadAccess(
  authorization: string | string[] | undefined,
  verify: VerifyOperator,
  scopeHint = 'read:',
): ReadAccess {
  const m = typeof authorization === 'string' ? /^Bearer\s+(\S+)$/i.exec(authorization) : null
  if (!m)
    return {
      ok: false,
      status: 401,
      message: 'missing bearer token (Authorization: Bearer <operator token>)',
    }
  const v = verify(m[1]!)
  if (!v.ok) return { ok: false, status: 401, message: `token rejected (${v.reason})` }
  const patterns = readPatterns(v.operator.scopes)
  if (patterns.length === 0)
    return { ok: false, status: 403, message: `operator ${v.operator.name} has no ${scopeHint} scope` }
  return { ok: true, operator: v.operator.name, patterns }
}

/** The name patterns these scopes may read: `admin` → `*`, `read:<p>` → `<p>`. */
export function readPatterns(scopes: readonly string[]): string[] {
  const patterns: string[] = []
  for (const s of scopes) {
    if (s === 'admin') patterns.push('*')
    else if (s.startsWith('read:')) patterns.push(s.slice(5))
  }
  return patterns
}
