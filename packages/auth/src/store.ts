import { hash, timingSafeEqual } from 'node:crypto'
import { type FSWatcher, watch as fsWatch } from 'node:fs'
import { dirname, resolve as resolvePath } from 'node:path'
import {
  type CompiledCredential,
  type CredentialSet,
  compileCredentials,
  resolveCredential,
} from './credential-set.ts'
import { modeWarning, parseCredentials, readCredentialsText } from './credentials-file.ts'
import { MI_ERR_AUTH_OPTION_INVALID } from './errors.ts'
import { hmacProof, sessionKey } from './handshake-crypto.ts'
import { isValidName } from './names.ts'
import {
  DUMMY_HMAC_KEY,
  DUMMY_TOKEN_DIGEST,
  fingerprintMatches,
  MAX_TOKEN_CHARS,
  type TokenDigest,
  tokenMatches,
} from './secrets.ts'

/** The decoded HELLO map (PROTOCOL.md "Handshake" step 2). Fields are untrusted wire input. */
export interface HelloInput {
  module?: unknown
  core?: unknown
  method?: unknown
  token?: unknown
  cnonce?: unknown
  proof?: unknown
  fingerprint?: unknown
  mac?: unknown
  client?: unknown
}

export interface VerifyContext {
  /** The 16-byte nonce this connection's WELCOME carried. */
  nonce: Uint8Array
  /** For audit events only. */
  remoteAddress?: string
  /** Module name from a verified client certificate: the HELLO must name the same module. */
  tlsIdentity?: string
}

export interface Identity {
  readonly module: string
  /** `''` when the HELLO named no core. */
  readonly core: string
  readonly scopes: readonly string[]
  /** Per-frame MAC for the rest of the session (hmac method with `mac: true` only). */
  readonly mac: boolean
  /** HMAC-SHA256(module_key, "mip1-session" ‖ nonce ‖ cnonce), present when `mac` is true. */
  readonly sessionKey?: Uint8Array
  readonly method: 'token' | 'hmac'
  readonly credentialId: string
  /** Content hash of the credential entry that admitted this session. */
  readonly credentialRevision: string
  /** The store generation at handshake time. */
  readonly generation: number
  /** When the credential expires (ms since epoch): the engine may end the session then. */
  readonly expiresAtMs?: number
}

export type AuthFailureReason =
  | 'unknown-module'
  | 'bad-secret'
  | 'expired'
  | 'disabled'
  | 'fingerprint'
  | 'mac-required'
  | 'bad-name'
  | 'method'
  | 'tls-identity'

/** `reason` is for audit logs only: the wire answer is always AUTH_FAILED with one message. */
export type VerifyResult =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly reason: AuthFailureReason; readonly credentialId?: string }

/** Why a live session must end after a reload (see README "Live sessions on reload"). */
export type SessionEndReason = 'revoked' | 'disabled' | 'expired' | 'changed'

export type OperatorResult =
  | { readonly ok: true; readonly operator: { readonly name: string; readonly scopes: readonly string[] } }
  | { readonly ok: false; readonly reason: 'bad-secret' | 'expired' | 'disabled' }

export interface CredentialStoreOptions {
  /** Clock for expiry checks, ms since epoch. Default `Date.now`. */
  now?: () => number
}

export interface WatchOptions {
  /** Quiet period after the last change event before reloading. Default 100 ms. */
  debounceMs?: number
}

export interface ReloadInfo {
  readonly generation: number
  readonly previousGeneration: number
}

const kZeroCnonce: Uint8Array = new Uint8Array(16)
const kZeroProof: Uint8Array = new Uint8Array(32)

function bytesOf(value: unknown, length: number): Uint8Array | undefined {
  return value instanceof Uint8Array && value.byteLength === length ? value : undefined
}

/** How many matched operator tokens verifyOperator remembers (a few per operator at most). */
const kOperatorCache = 64

/**
 * The credentials in force, swapped atomically on reload. Pure logic plus file reading and
 * `fs.watch`: usable inside a parser worker (each worker may hold its own store).
 */
export class CredentialStore {
  #set: CredentialSet
  #generation = 1
  #path: string | undefined
  #now: () => number
  #warnings: string[]
  #watcher: FSWatcher | undefined
  #timer: NodeJS.Timeout | undefined
  /**
   * Operator tokens that matched, by their SHA-256, for the set they matched in: a read API checks
   * the same token on every request, and the HMAC per operator (with its key object and digest
   * buffers) was ~20 µs and ~600 bytes of garbage of a ~100 µs kv get. A hit costs one SHA-256; a
   * wrong token still tries every operator. Only matches are kept (at most kOperatorCache), so
   * guessing fills nothing.
   */
  #operatorCache = new Map<string, { set: CredentialSet; op: CredentialSet['operators'][number] }>()

  private constructor(
    set: CredentialSet,
    path: string | undefined,
    options: CredentialStoreOptions,
    warnings: string[],
  ) {
    this.#set = set
    this.#path = path
    this.#now = options.now ?? Date.now
    this.#warnings = warnings
  }

  /** Read and validate `path`; throws MI_ERR_AUTH_CREDENTIALS_INVALID naming every bad key path. */
  static async load(path: string, options: CredentialStoreOptions = {}): Promise<CredentialStore> {
    const abs = resolvePath(path)
    const text = await readCredentialsText(abs)
    const { file } = parseCredentials(text, abs)
    const warning = await modeWarning(abs)
    return new CredentialStore(compileCredentials(file, text), abs, options, warning ? [warning] : [])
  }

  /** Build a store from file text (YAML or JSON), e.g. text a main thread read and posted to a worker. */
  static fromText(text: string, options: CredentialStoreOptions & { source?: string } = {}): CredentialStore {
    const source = options.source ?? '(inline)'
    const { file } = parseCredentials(text, source)
    return new CredentialStore(compileCredentials(file, text), undefined, options, [])
  }

  /** Increments whenever a reload brings different content. */
  get generation(): number {
    return this.#generation
  }

  get path(): string | undefined {
    return this.#path
  }

  /** Non-fatal findings of the last load, e.g. a file readable by others. */
  get warnings(): readonly string[] {
    return this.#warnings
  }

  /** Replace the set from new text; a broken text throws and leaves the current set in force. */
  replaceText(text: string, source = this.#path ?? '(inline)'): ReloadInfo & { changed: boolean } {
    const previousGeneration = this.#generation
    const { file } = parseCredentials(text, source)
    const next = compileCredentials(file, text)
    if (next.contentHash === this.#set.contentHash) {
      return { changed: false, generation: previousGeneration, previousGeneration }
    }
    // One assignment: a verifyHello running on this thread sees the old set or the new, never a mix.
    this.#set = next
    this.#generation = previousGeneration + 1
    return { changed: true, generation: this.#generation, previousGeneration }
  }

  /** Re-read the file now. Throws (keeping the last good set) when the file is unreadable or invalid. */
  async reload(): Promise<ReloadInfo & { changed: boolean }> {
    if (this.#path === undefined)
      throw new MI_ERR_AUTH_OPTION_INVALID('path', 'this store was not loaded from a file')
    const text = await readCredentialsText(this.#path)
    const info = this.replaceText(text)
    const warning = await modeWarning(this.#path)
    this.#warnings = warning ? [warning] : []
    return info
  }

  /**
   * Watch the file's directory (an atomic rename replaces the inode, so watching the file itself
   * would go deaf after the first edit) and reload after `debounceMs` of quiet. `onReload` runs only
   * when the content changed; `onError` gets read/validation errors while the last good set stays.
   */
  watch(
    onReload?: (info: ReloadInfo) => void,
    onError?: (err: Error) => void,
    options: WatchOptions = {},
  ): this {
    if (this.#path === undefined)
      throw new MI_ERR_AUTH_OPTION_INVALID('path', 'this store was not loaded from a file')
    if (this.#watcher !== undefined) return this
    const debounceMs = options.debounceMs ?? 100
    const fire = () => {
      this.#timer = undefined
      this.reload().then(
        (info) => {
          if (info.changed) onReload?.(info)
        },
        (err: Error) => onError?.(err),
      )
    }
    this.#watcher = fsWatch(dirname(this.#path), () => {
      if (this.#timer !== undefined) clearTimeout(this.#timer)
      this.#timer = setTimeout(fire, debounceMs)
    })
    this.#watcher.on('error', (err) => onError?.(err))
    return this
  }

  /** Stop watching. */
  close(): void {
    this.#watcher?.close()
    this.#watcher = undefined
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /**
   * Check a HELLO. Synchronous and cheap (one HMAC-SHA256 per call). The secret is always checked
   * against something — a dummy digest or key when the module is unknown or lacks the method — so
   * unknown module, wrong method and wrong secret cost the same.
   */
  verifyHello(hello: HelloInput | null | undefined, ctx: VerifyContext): VerifyResult {
    const nonce = bytesOf(ctx?.nonce, 16)
    if (nonce === undefined) throw new MI_ERR_AUTH_OPTION_INVALID('nonce', 'expected a 16-byte Uint8Array')
    const set = this.#set
    const h: HelloInput = hello !== null && typeof hello === 'object' ? hello : {}
    const { module, core, method } = h
    if (!isValidName(module) || (core !== undefined && !isValidName(core)))
      return { ok: false, reason: 'bad-name' }
    if (method !== 'token' && method !== 'hmac') return { ok: false, reason: 'method' }
    const cred = resolveCredential(set, module)

    let secretOk: boolean
    let key: Buffer | undefined
    let cnonce: Uint8Array = kZeroCnonce
    if (method === 'token') {
      const token = typeof h.token === 'string' && h.token.length <= MAX_TOKEN_CHARS ? h.token : undefined
      const stored: TokenDigest = cred?.token ?? DUMMY_TOKEN_DIGEST
      secretOk = tokenMatches(token ?? '', stored) && token !== undefined && cred?.token !== undefined
    } else {
      const presentedCnonce = bytesOf(h.cnonce, 16)
      const proof = bytesOf(h.proof, 32)
      cnonce = presentedCnonce ?? kZeroCnonce
      key = cred?.hmacKey ?? DUMMY_HMAC_KEY
      const expected = hmacProof(key, nonce, cnonce, module)
      secretOk =
        timingSafeEqual(expected, proof ?? kZeroProof) &&
        proof !== undefined &&
        presentedCnonce !== undefined &&
        cred?.hmacKey !== undefined
    }

    if (cred === undefined) return { ok: false, reason: 'unknown-module' }
    const fail = (reason: AuthFailureReason): VerifyResult => ({ ok: false, reason, credentialId: cred.id })
    if ((method === 'token' ? cred.token : cred.hmacKey) === undefined) return fail('method')
    if (!secretOk) return fail('bad-secret')
    if (cred.disabled) return fail('disabled')
    if (cred.expiresAtMs !== undefined && this.#now() >= cred.expiresAtMs) return fail('expired')
    if (cred.fingerprint !== undefined && !fingerprintMatches(h.fingerprint, cred.fingerprint))
      return fail('fingerprint')
    // A token session cannot MAC (no shared key), so a credential that requires MAC needs hmac + mac.
    const mac = method === 'hmac' && h.mac === true
    if (cred.requireMac && !mac) return fail('mac-required')
    if (ctx.tlsIdentity !== undefined && ctx.tlsIdentity !== module) return fail('tls-identity')

    const identity: Identity = {
      module,
      core: typeof core === 'string' ? core : '',
      scopes: cred.scopes,
      mac,
      ...(mac && key !== undefined ? { sessionKey: new Uint8Array(sessionKey(key, nonce, cnonce)) } : {}),
      method,
      credentialId: cred.id,
      credentialRevision: cred.revision,
      generation: this.#generation,
      ...(cred.expiresAtMs !== undefined ? { expiresAtMs: cred.expiresAtMs } : {}),
    }
    return { ok: true, identity }
  }

  /**
   * What should happen to a live session after a reload (or when its credential's expiry passes):
   * `null` keeps it; a reason means end it with ERROR AUTH_FAILED. A session lives only as long as
   * the exact credential entry that admitted it: revoked, disabled, expired, or edited in anything
   * that grants authority (secret, scopes, fingerprint, requireMac, pattern) all end it. A module
   * now governed by a different entry (say an exact entry added over its pattern) is `changed`.
   */
  isRevokedOrChanged(
    identity: Pick<Identity, 'module' | 'credentialId' | 'credentialRevision'>,
  ): SessionEndReason | null {
    const set = this.#set
    const current = resolveCredential(set, identity.module)
    if (current === undefined) return 'revoked'
    if (current.id !== identity.credentialId)
      return set.byId.has(identity.credentialId) ? 'changed' : 'revoked'
    if (current.disabled) return 'disabled'
    if (current.expiresAtMs !== undefined && this.#now() >= current.expiresAtMs) return 'expired'
    if (current.revision !== identity.credentialRevision) return 'changed'
    return null
  }

  /** Check an operator's bearer token (admin interface). Every operator is tried: constant cost. */
  verifyOperator(token: unknown): OperatorResult {
    const presented = typeof token === 'string' && token.length <= MAX_TOKEN_CHARS ? token : ''
    const set = this.#set
    const digest = presented === '' ? '' : hash('sha256', presented, 'base64')
    let found = this.#operatorCache.get(digest)
    if (found?.set !== set) {
      found = undefined
      for (const op of set.operators) {
        if (tokenMatches(presented, op.token) && presented !== '' && found === undefined) found = { set, op }
      }
      if (set.operators.length === 0) tokenMatches(presented, DUMMY_TOKEN_DIGEST)
      if (found !== undefined) {
        if (this.#operatorCache.size >= kOperatorCache) this.#operatorCache.clear()
        this.#operatorCache.set(digest, found)
      }
    }
    if (found === undefined) return { ok: false, reason: 'bad-secret' }
    const { op } = found
    if (op.disabled) return { ok: false, reason: 'disabled' }
    if (op.expiresAtMs !== undefined && this.#now() >= op.expiresAtMs) return { ok: false, reason: 'expired' }
    return { ok: true, operator: { name: op.name, scopes: op.scopes } }
  }

  /** The credential governing `module`, without secrets (for diagnostics). */
  describe(module: string): { id: string; pattern: string; scopes: readonly string[] } | undefined {
    const c: CompiledCredential | undefined = resolveCredential(this.#set, module)
    return c === undefined ? undefined : { id: c.id, pattern: c.pattern, scopes: c.scopes }
  }
}
