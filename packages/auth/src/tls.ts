import { createHash } from 'node:crypto'
import { type FSWatcher, promises as fs, watch as fsWatch } from 'node:fs'
import { dirname, resolve as resolvePath } from 'node:path'
import { createSecureContext, type PeerCertificate } from 'node:tls'
import { MI_ERR_AUTH_TLS_INVALID } from './errors.ts'
import { isValidName } from './names.ts'

export interface TlsFiles {
  certFile: string
  keyFile: string
  /** CA bundle that client certificates must chain to. */
  caFile?: string
  /** Ask clients for a certificate. Default false. */
  requestClientCert?: boolean
  /**
   * Refuse the TLS handshake without a valid client certificate. Default false: a client may
   * still authenticate by token/hmac, and the engine passes a cert identity to `verifyHello` only
   * when `socket.authorized` is true.
   */
  requireClientCert?: boolean
}

/** What `tls.createServer(options)` / `server.setSecureContext(options)` take. */
export interface TlsContextOptions {
  cert: Buffer
  key: Buffer
  ca?: Buffer
  requestCert: boolean
  rejectUnauthorized: boolean
}

/**
 * Read the PEM files and check that they make a usable context (key matches certificate, CA
 * parses) before handing them over, so a bad renewal never replaces a working context.
 */
export async function loadTlsContext(files: TlsFiles): Promise<TlsContextOptions> {
  let cert: Buffer
  let key: Buffer
  let ca: Buffer | undefined
  try {
    ;[cert, key, ca] = await Promise.all([
      fs.readFile(files.certFile),
      fs.readFile(files.keyFile),
      files.caFile === undefined ? undefined : fs.readFile(files.caFile),
    ])
  } catch (err) {
    throw new MI_ERR_AUTH_TLS_INVALID((err as Error).message, { cause: err })
  }
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) })
  } catch (err) {
    throw new MI_ERR_AUTH_TLS_INVALID(`${files.certFile} / ${files.keyFile}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  const requestCert = files.requestClientCert === true || files.requireClientCert === true
  return {
    cert,
    key,
    ...(ca ? { ca } : {}),
    requestCert,
    rejectUnauthorized: requestCert && files.requireClientCert === true,
  }
}

export interface TlsWatcher {
  close(): void
}

/**
 * Reload certificates without a restart: watches the files' directories, reloads after
 * `debounceMs` of quiet, and calls `onReload` with fresh options when their content changed (the
 * engine calls `server.setSecureContext(options)`; live connections keep their context). A broken
 * or half-written renewal goes to `onError` and the previous context stays.
 */
export function watchTls(
  files: TlsFiles,
  onReload: (options: TlsContextOptions) => void,
  onError?: (err: Error) => void,
  options: { debounceMs?: number } = {},
): TlsWatcher {
  const debounceMs = options.debounceMs ?? 200
  const paths = [files.certFile, files.keyFile, files.caFile].filter((p): p is string => p !== undefined)
  const dirs = [...new Set(paths.map((p) => dirname(resolvePath(p))))]
  let last: string | undefined
  let timer: NodeJS.Timeout | undefined
  let closed = false
  const digest = (o: TlsContextOptions) =>
    createHash('sha256')
      .update(o.cert)
      .update('\0')
      .update(o.key)
      .update('\0')
      .update(o.ca ?? '')
      .digest('hex')
  const reload = () => {
    timer = undefined
    loadTlsContext(files).then(
      (ctx) => {
        const d = digest(ctx)
        if (closed || d === last) return
        last = d
        onReload(ctx)
      },
      (err: Error) => {
        if (!closed) onError?.(err)
      },
    )
  }
  // Remember what is in force now, so the first event after an unrelated write is not a "reload".
  loadTlsContext(files).then(
    (ctx) => {
      last ??= digest(ctx)
    },
    () => {},
  )
  const watchers: FSWatcher[] = dirs.map((dir) =>
    fsWatch(dir, () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = setTimeout(reload, debounceMs)
    }).on('error', (err) => onError?.(err)),
  )
  return {
    close() {
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      for (const w of watchers) w.close()
    },
  }
}

/** The module SAN form: `urn:module-ingest:module:<name>`. */
export const MODULE_URI_PREFIX = 'urn:module-ingest:module:'

/** Either `tlsSocket.getPeerCertificate()` or a `crypto.X509Certificate`. */
export type CertificateLike =
  | Pick<PeerCertificate, 'subject' | 'subjectaltname'>
  | { subject: string; subjectAltName?: string | undefined }

function sanEntries(san: string | undefined): Array<[string, string]> {
  if (!san) return []
  // Node renders `DNS:a, URI:b`; values with commas come quoted, and are no module name anyway.
  return san.split(', ').map((part) => {
    const i = part.indexOf(':')
    return [part.slice(0, i), part.slice(i + 1)] as [string, string]
  })
}

function commonName(subject: unknown): string | undefined {
  if (typeof subject === 'string') {
    // X509Certificate.subject: one `KEY=value` per line.
    const cn = subject.split('\n').find((l) => l.startsWith('CN='))
    return cn?.slice(3)
  }
  if (subject !== null && typeof subject === 'object') {
    const cn = (subject as { CN?: string | string[] }).CN
    return Array.isArray(cn) ? (cn.length === 1 ? cn[0] : undefined) : cn
  }
  return undefined
}

/**
 * The module name a verified client certificate speaks for, or null. In order: a URI SAN
 * `urn:module-ingest:module:<name>`, then the subject CN, then the first DNS SAN — each only if it is
 * a valid MIP/1 module name. Call it only for `socket.authorized` connections: it does not verify.
 */
export function identityFromPeerCertificate(cert: CertificateLike | null | undefined): string | null {
  if (cert === null || cert === undefined || typeof cert !== 'object') return null
  const san =
    'subjectaltname' in cert
      ? cert.subjectaltname
      : 'subjectAltName' in cert
        ? cert.subjectAltName
        : undefined
  const entries = sanEntries(san)
  for (const [kind, value] of entries) {
    if (kind === 'URI' && value.startsWith(MODULE_URI_PREFIX)) {
      const name = value.slice(MODULE_URI_PREFIX.length)
      if (isValidName(name)) return name
    }
  }
  const cn = commonName(cert.subject)
  if (isValidName(cn)) return cn
  for (const [kind, value] of entries) if (kind === 'DNS' && isValidName(value)) return value
  return null
}
