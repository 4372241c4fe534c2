import { Packr } from 'msgpackr'
import { ErrorCode, NONCE_BYTES, PROOF_BYTES, VERSION } from './constants.ts'
import { ProtocolError } from './errors.ts'
import { isValidCoreName, isValidModuleName } from './names.ts'

/**
 * Handshake and control bodies (WELCOME, HELLO, HELLO_OK, NACK, ERROR) are MessagePack maps.
 * `useRecords: false` keeps them plain maps any MessagePack library reads; bins decode as Buffer.
 *
 * What a malformed body maps to:
 *
 * | body | decoded by | malformed → |
 * |---|---|---|
 * | HELLO | server | AUTH_FAILED (6), message always "authentication failed" (detail in `cause`) |
 * | WELCOME | client | UNSUPPORTED_VERSION (2) when `proto` ≠ 1, else BAD_PAYLOAD (9) marked fatal |
 * | HELLO_OK, NACK, ERROR | client | BAD_PAYLOAD (9) marked fatal: the client cannot go on |
 *
 * Unknown extra keys are ignored everywhere, so a peer may add fields without a new version.
 */

export interface Welcome {
  server: string
  proto: number
  nonce: Uint8Array
  auth: string[]
  compression: string[]
  max_frame: number
  heartbeat_ms: number
}

export interface Hello {
  module: string
  core?: string
  method: 'token' | 'hmac'
  token?: string
  cnonce?: Uint8Array
  proof?: Uint8Array
  fingerprint?: string
  mac?: boolean
  client?: string
}

export interface HelloOk {
  session: string
  scopes: string[]
  mac: boolean
}

/** Body of NACK and ERROR frames. */
export interface CodeMessage {
  code: number
  message: string
}

const kPackr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'number',
} as ConstructorParameters<typeof Packr>[0])

/** Encode a body as a MessagePack map, dropping undefined-valued keys. */
export function encodeBody(body: object): Buffer {
  const clean: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) if (v !== undefined) clean[k] = v
  return kPackr.pack(clean)
}

type Fail = (detail: string, cause?: unknown) => ProtocolError

function unpackMap(bytes: Uint8Array, fail: Fail): Record<string, unknown> {
  let v: unknown
  try {
    v = kPackr.unpack(bytes)
  } catch (err) {
    throw fail('body is not MessagePack', err)
  }
  if (
    v === null ||
    typeof v !== 'object' ||
    Array.isArray(v) ||
    v instanceof Uint8Array ||
    v instanceof Map
  ) {
    throw fail('body is not a MessagePack map')
  }
  return v as Record<string, unknown>
}

const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined)

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v)
}

function isBin(v: unknown, bytes: number): v is Uint8Array {
  return v instanceof Uint8Array && v.byteLength === bytes
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string')
}

const clientFail: Fail = (detail, cause) =>
  new ProtocolError(ErrorCode.BAD_PAYLOAD, `malformed server message: ${detail}`, undefined, {
    fatal: true,
    cause,
  })

export function decodeWelcome(payload: Uint8Array): Welcome {
  const m = unpackMap(payload, (d, c) => clientFail(`WELCOME ${d}`, c))
  const proto = own(m, 'proto')
  if (proto !== VERSION) {
    throw new ProtocolError(ErrorCode.UNSUPPORTED_VERSION, `server speaks proto ${String(proto)}`, undefined)
  }
  const server = own(m, 'server')
  const nonce = own(m, 'nonce')
  const auth = own(m, 'auth')
  const compression = own(m, 'compression') ?? []
  const maxFrame = own(m, 'max_frame')
  const heartbeat = own(m, 'heartbeat_ms')
  if (typeof server !== 'string') throw clientFail('WELCOME server is not a string')
  if (!isBin(nonce, NONCE_BYTES)) throw clientFail(`WELCOME nonce is not bin(${NONCE_BYTES})`)
  if (!isStringArray(auth)) throw clientFail('WELCOME auth is not a string array')
  if (!isStringArray(compression)) throw clientFail('WELCOME compression is not a string array')
  if (!isInt(maxFrame) || maxFrame < 0 || maxFrame > 0xffffffff) throw clientFail('WELCOME max_frame invalid')
  if (!isInt(heartbeat) || heartbeat <= 0) throw clientFail('WELCOME heartbeat_ms invalid')
  return { server, proto, nonce, auth, compression, max_frame: maxFrame, heartbeat_ms: heartbeat }
}

/**
 * Decode and validate a HELLO (server side). Every failure is AUTH_FAILED with the uniform message
 * "authentication failed", as the spec requires; the reason is in `err.cause.message` for logs.
 * A token HELLO asking for `mac: true` is valid (the server answers `mac: false`).
 */
export function decodeHello(payload: Uint8Array): Hello {
  const fail: Fail = (detail, cause) =>
    new ProtocolError(ErrorCode.AUTH_FAILED, 'authentication failed', undefined, {
      cause: new Error(`HELLO ${detail}`, cause === undefined ? undefined : { cause }),
    })
  const m = unpackMap(payload, fail)
  const module = own(m, 'module')
  const core = own(m, 'core')
  const method = own(m, 'method')
  const fingerprint = own(m, 'fingerprint')
  const mac = own(m, 'mac')
  const client = own(m, 'client')
  if (!isValidModuleName(module)) throw fail('module name missing or malformed')
  if (core !== undefined && core !== null && !isValidCoreName(core)) throw fail('core name malformed')
  if (fingerprint !== undefined && fingerprint !== null && typeof fingerprint !== 'string') {
    throw fail('fingerprint is not a string')
  }
  if (mac !== undefined && mac !== null && typeof mac !== 'boolean') throw fail('mac is not a boolean')
  if (client !== undefined && client !== null && typeof client !== 'string')
    throw fail('client is not a string')
  const hello: Hello = { module, method: 'token' }
  if (typeof core === 'string') hello.core = core
  if (typeof fingerprint === 'string') hello.fingerprint = fingerprint
  if (typeof mac === 'boolean') hello.mac = mac
  if (typeof client === 'string') hello.client = client
  if (method === 'token') {
    const token = own(m, 'token')
    if (typeof token !== 'string' || token.length === 0) throw fail('token missing')
    hello.token = token
  } else if (method === 'hmac') {
    const cnonce = own(m, 'cnonce')
    const proof = own(m, 'proof')
    if (!isBin(cnonce, NONCE_BYTES)) throw fail(`cnonce is not bin(${NONCE_BYTES})`)
    if (!isBin(proof, PROOF_BYTES)) throw fail(`proof is not bin(${PROOF_BYTES})`)
    hello.method = 'hmac'
    hello.cnonce = cnonce
    hello.proof = proof
  } else {
    throw fail('unknown method')
  }
  return hello
}

export function decodeHelloOk(payload: Uint8Array): HelloOk {
  const m = unpackMap(payload, (d, c) => clientFail(`HELLO_OK ${d}`, c))
  const session = own(m, 'session')
  const scopes = own(m, 'scopes')
  const mac = own(m, 'mac')
  if (typeof session !== 'string') throw clientFail('HELLO_OK session is not a string')
  if (!isStringArray(scopes)) throw clientFail('HELLO_OK scopes is not a string array')
  if (typeof mac !== 'boolean') throw clientFail('HELLO_OK mac is not a boolean')
  return { session, scopes, mac }
}

/** Decode a NACK or ERROR body. `code` must be a non-negative integer (unknown codes pass through). */
export function decodeNackOrError(payload: Uint8Array): CodeMessage {
  const m = unpackMap(payload, (d, c) => clientFail(`NACK/ERROR ${d}`, c))
  const code = own(m, 'code')
  const message = own(m, 'message')
  if (!isInt(code) || code < 0) throw clientFail('NACK/ERROR code is not a non-negative integer')
  if (typeof message !== 'string') throw clientFail('NACK/ERROR message is not a string')
  return { code, message }
}
