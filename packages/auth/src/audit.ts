import type { HelloInput, VerifyContext, VerifyResult } from './store.ts'

export type AuditEventName =
  | 'AuthSucceeded'
  | 'AuthFailed'
  | 'CredentialRevoked'
  | 'HandshakeThrottled'
  | 'SessionRevoked'

/** A pino-ready object (`logger.info(event)`). Built from an allow-list of fields: no secret can slip in. */
export interface AuditEvent {
  event: AuditEventName
  module?: string
  core?: string
  remoteAddress?: string
  reason?: string
  credentialId?: string
  method?: string
  client?: string
  retryAfterMs?: number
}

export interface AuditFields {
  module?: unknown
  core?: unknown
  remoteAddress?: unknown
  reason?: unknown
  credentialId?: unknown
  method?: unknown
  client?: unknown
  retryAfterMs?: unknown
}

const kMaxChars = 128

/** Wire-supplied text is attacker-chosen: cap its length and drop control characters. */
function clean(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  const text = value.slice(0, kMaxChars).replace(/[\u0000-\u001f\u007f]/g, '?')
  return value.length > kMaxChars ? `${text}…` : text
}

export function auditEvent(event: AuditEventName, fields: AuditFields = {}): AuditEvent {
  const out: AuditEvent = { event }
  for (const key of [
    'module',
    'core',
    'remoteAddress',
    'reason',
    'credentialId',
    'method',
    'client',
  ] as const) {
    const v = clean(fields[key])
    if (v !== undefined) out[key] = v
  }
  if (typeof fields.retryAfterMs === 'number' && Number.isFinite(fields.retryAfterMs))
    out.retryAfterMs = Math.ceil(fields.retryAfterMs)
  return out
}

/** The audit event for a `verifyHello` outcome. Tokens, proofs, keys and fingerprints are never copied. */
export function auditHello(
  result: VerifyResult,
  hello: HelloInput | null | undefined,
  ctx: Pick<VerifyContext, 'remoteAddress'> = {},
): AuditEvent {
  const h = hello ?? {}
  const base = {
    module: h.module,
    core: h.core,
    method: h.method,
    client: h.client,
    remoteAddress: ctx.remoteAddress,
  }
  if (result.ok) {
    return auditEvent('AuthSucceeded', { ...base, credentialId: result.identity.credentialId })
  }
  return auditEvent('AuthFailed', { ...base, reason: result.reason, credentialId: result.credentialId })
}
