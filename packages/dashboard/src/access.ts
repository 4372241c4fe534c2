import type { IncomingMessage } from 'node:http'
import type { CredentialStore } from '@module-ingest/auth'
import { readPatterns } from '@module-ingest/auth/bearer'

/** The bearer token of a request: `Authorization: Bearer …`, or `?token=` (EventSource cannot set headers). */
export function bearerToken(req: IncomingMessage): string | null {
  const h = req.headers.authorization
  if (typeof h === 'string' && /^bearer /i.test(h)) return h.slice(7).trim()
  const q = (req.url ?? '').indexOf('?')
  if (q < 0) return null
  return new URLSearchParams((req.url ?? '').slice(q + 1)).get('token')
}

/** Whether an operator with these scopes may read the dashboard: `admin` or any `read:` scope. */
export function canRead(scopes: readonly string[]): boolean {
  return readPatterns(scopes).length > 0
}

/** An authorize() for startDashboard: operators of the credentials file with a read or admin scope. */
export function operatorAuthorizer(store: Pick<CredentialStore, 'verifyOperator'>) {
  return (req: IncomingMessage): boolean => {
    const result = store.verifyOperator(bearerToken(req))
    return result.ok && canRead(result.operator.scopes)
  }
}

/** Loopback addresses, where the dashboard needs no token (like /metrics). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host)
}
