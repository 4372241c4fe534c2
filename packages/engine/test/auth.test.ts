/**
 * Every auth path of packages/auth against the real engine over plain TCP: credential states,
 * fingerprints, HMAC proofs, one wire answer for every failure, MAC sessions, scopes, fleet
 * patterns, and credentials reloaded while the server runs (the live-session policy of
 * packages/auth/README.md "Live sessions on reload").
 *
 * One parser worker, so "a new credential is admitted" proves that the only parser has reloaded
 * and reviewed its live sessions: that is the barrier tests wait on after editing the file, instead
 * of sleeping.
 */
import { randomBytes } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createToken, revoke, rotate } from '@module-ingest/auth'
import {
  decodeNackOrError,
  ErrorCode,
  encodeBatchFrame,
  encodeData,
  encodeHello,
  FrameType,
  hmacProof,
} from '@module-ingest/protocol'
import { MipSocket, type ReceivedFrame } from '@module-ingest/testing'
import anyTest, { type TestFn } from 'ava'
import { startTestServer, type TestServer } from './fixtures/_server.ts'

interface Ctx extends TestServer {
  file: string
  /** Secrets of the credentials test.before created, by module. */
  secrets: Map<string, string>
}
const test = anyTest as TestFn<Ctx>

/** Bounded wait for anything that follows a credentials reload (watch debounce + comlink call). */
const RELOAD_WAIT_MS = 10_000

const record = (body: string, stream = 'telemetry.temp') => ({ stream, ts: 1_700_000_000_000_000, body })

async function addToken(
  file: string,
  module: string,
  scopes: string[],
  extra: { expiresAt?: string; fingerprint?: string; comment?: string } = {},
): Promise<string> {
  return (await createToken(file, { module, scopes, kind: 'token', ...extra })).secret
}

/** Hand edit of the credentials file the way editors do it: temp file, then rename. */
async function editFile(file: string, edit: (text: string) => string): Promise<void> {
  const text = await readFile(file, 'utf8')
  const next = edit(text)
  if (next === text) throw new Error('edit changed nothing')
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, next, { mode: 0o600 })
  await rename(tmp, file)
}

/** Insert `key: value` into the entry whose comment is `marker` (YAML key order is free). */
const setInEntry = (marker: string, line: string) => (text: string) =>
  text.replace(new RegExp(`^(\\s*)comment: ${marker}$`, 'm'), `$1${line}\n$1comment: ${marker}`)

let barriers = 0
/**
 * Add a brand-new credential and retry a HELLO with it until it is admitted: the server picked up
 * the file without a restart, and (one parser) every edit written before it is in force.
 */
async function reloadBarrier(t: { context: Ctx }): Promise<void> {
  const module = `barrier-${++barriers}`
  const token = await addToken(t.context.file, module, ['write:barrier.*'])
  const deadline = Date.now() + RELOAD_WAIT_MS
  for (;;) {
    const sock = await MipSocket.open(t.context.port)
    try {
      await sock.hello({ module, token })
      sock.close()
      return
    } catch (err) {
      sock.close()
      if (Date.now() > deadline) throw new Error(`${module} not admitted within ${RELOAD_WAIT_MS} ms: ${err}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

/** Send HELLO `body` on a fresh connection and return the server's answer frame. */
async function answerTo(
  port: number,
  body: Parameters<typeof encodeHello>[0] | ((s: MipSocket) => Parameters<typeof encodeHello>[0]),
): Promise<ReceivedFrame> {
  const sock = await MipSocket.open(port)
  sock.write(encodeHello(typeof body === 'function' ? body(sock) : body))
  const f = await sock.next()
  sock.close()
  return f
}

async function helloCode(port: number, hello: Parameters<MipSocket['hello']>[0]): Promise<number | 'ok'> {
  const sock = await MipSocket.open(port)
  try {
    await sock.hello(hello)
    return 'ok'
  } catch (err) {
    return (err as { code: number }).code
  } finally {
    sock.close()
  }
}

/** Read frames (ACKs and the like) until an ERROR; return its code and message. */
async function nextError(
  sock: MipSocket,
  timeoutMs = RELOAD_WAIT_MS,
): Promise<{ code: number; message: string }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const f = await sock.next(Math.max(1, deadline - Date.now()))
    if (f.type === FrameType.ERROR) return decodeNackOrError(f.payload)
  }
}

test.before(async (t) => {
  const s = await startTestServer({
    'workers.parsers': 1,
    // This file fails many handshakes on purpose from one address; the throttle has its own tests.
    'limits.failedHandshakesPerMinute': 10_000,
  })
  const file = join(s.dataDir, 'credentials.yaml')
  const secrets = new Map<string, string>()
  const past = new Date(Date.now() - 60_000).toISOString()
  const future = new Date(Date.now() + 86_400_000).toISOString()
  secrets.set('auth-expired', await addToken(file, 'auth-expired', ['write:*'], { expiresAt: past }))
  secrets.set('auth-valid', await addToken(file, 'auth-valid', ['write:*'], { expiresAt: future }))
  secrets.set(
    'auth-disabled',
    await addToken(file, 'auth-disabled', ['write:*'], { comment: 'mark-disabled' }),
  )
  secrets.set('auth-fp', await addToken(file, 'auth-fp', ['write:*'], { fingerprint: 'AA:BB:CC:DD:EE:0F' }))
  secrets.set('scoped-1', await addToken(file, 'scoped-1', ['write:telemetry.*', 'read:other.*']))
  secrets.set('admin-1', await addToken(file, 'admin-1', ['admin']))
  secrets.set('sensor-8', await addToken(file, 'sensor-8', ['write:exact.*']))
  await editFile(file, setInEntry('mark-disabled', 'disabled: true'))
  t.context = { ...s, file, secrets }
  await reloadBarrier(t)
})
test.after.always(async (t) => {
  await t.context.stop()
})

test.serial('a credential past its expiresAt is AUTH_FAILED; one before it is admitted', async (t) => {
  const { port, secrets } = t.context
  t.is(
    await helloCode(port, { module: 'auth-expired', token: secrets.get('auth-expired')! }),
    ErrorCode.AUTH_FAILED,
  )
  t.is(await helloCode(port, { module: 'auth-valid', token: secrets.get('auth-valid')! }), 'ok')
})

test.serial('a disabled credential is AUTH_FAILED even with the right secret', async (t) => {
  const { port, secrets } = t.context
  t.is(
    await helloCode(port, { module: 'auth-disabled', token: secrets.get('auth-disabled')! }),
    ErrorCode.AUTH_FAILED,
  )
})

test.serial(
  'fingerprint: missing or wrong is AUTH_FAILED; the right one in any case is admitted',
  async (t) => {
    const { port, secrets } = t.context
    const token = secrets.get('auth-fp')!
    t.is(await helloCode(port, { module: 'auth-fp', token }), ErrorCode.AUTH_FAILED)
    t.is(
      await helloCode(port, { module: 'auth-fp', token, fingerprint: 'AA:BB:CC:DD:EE:FF' }),
      ErrorCode.AUTH_FAILED,
    )
    t.is(await helloCode(port, { module: 'auth-fp', token, fingerprint: '' }), ErrorCode.AUTH_FAILED)
    t.is(await helloCode(port, { module: 'auth-fp', token, fingerprint: 'aa:bb:cc:dd:ee:0f' }), 'ok')
    t.is(await helloCode(port, { module: 'auth-fp', token, fingerprint: 'AA:BB:CC:DD:EE:0F' }), 'ok')
    // A module registered without a fingerprint ignores one it is sent.
    t.is(
      await helloCode(port, {
        module: 'auth-valid',
        token: secrets.get('auth-valid')!,
        fingerprint: 'whatever',
      }),
      'ok',
    )
  },
)

test.serial(
  'hmac: a wrong proof, a proof for another nonce and a missing cnonce are AUTH_FAILED',
  async (t) => {
    const { port, hmacKey } = t.context
    const cnonce = randomBytes(16)
    const wrongKey = await answerTo(port, (s) => ({
      module: 'hmac-1',
      method: 'hmac',
      cnonce,
      proof: hmacProof(randomBytes(32), s.welcome!.nonce, cnonce, 'hmac-1'),
    }))
    const staleNonce = await answerTo(port, {
      module: 'hmac-1',
      method: 'hmac',
      cnonce,
      proof: hmacProof(hmacKey, randomBytes(16), cnonce, 'hmac-1'),
    })
    const noCnonce = await answerTo(port, (s) => ({
      module: 'hmac-1',
      method: 'hmac',
      proof: hmacProof(hmacKey, s.welcome!.nonce, Buffer.alloc(16), 'hmac-1'),
    }))
    for (const f of [wrongKey, staleNonce, noCnonce]) {
      t.is(f.type, FrameType.ERROR)
      t.is(decodeNackOrError(f.payload).code, ErrorCode.AUTH_FAILED)
    }
    t.is(await helloCode(port, { module: 'hmac-1', hmacKey }), 'ok')
  },
)

test.serial('every handshake failure is the same ERROR, byte for byte', async (t) => {
  const { port, token, hmacKey, secrets } = t.context
  const cnonce = randomBytes(16)
  const hmacTo = (module: string, key: Uint8Array) => (s: MipSocket) => ({
    module,
    method: 'hmac' as const,
    cnonce,
    proof: hmacProof(key, s.welcome!.nonce, cnonce, module),
  })
  const answers = {
    'unknown module (token)': await answerTo(port, { module: 'nobody-here', method: 'token', token }),
    'wrong secret (token)': await answerTo(port, { module: 'auth-valid', method: 'token', token }),
    'unknown module (hmac)': await answerTo(port, hmacTo('nobody-here', hmacKey)),
    'wrong secret (hmac)': await answerTo(port, hmacTo('hmac-1', randomBytes(32))),
    'method the entry has no secret for': await answerTo(port, hmacTo('auth-valid', hmacKey)),
    expired: await answerTo(port, {
      module: 'auth-expired',
      method: 'token',
      token: secrets.get('auth-expired')!,
    }),
    disabled: await answerTo(port, {
      module: 'auth-disabled',
      method: 'token',
      token: secrets.get('auth-disabled')!,
    }),
    fingerprint: await answerTo(port, { module: 'auth-fp', method: 'token', token: secrets.get('auth-fp')! }),
    'bad module name': await answerTo(port, { module: 'bad name!', method: 'token', token }),
  }
  const reference = answers['unknown module (token)']
  t.is(reference.type, FrameType.ERROR)
  t.deepEqual(decodeNackOrError(reference.payload), {
    code: ErrorCode.AUTH_FAILED,
    message: 'authentication failed',
  })
  for (const [what, f] of Object.entries(answers)) {
    t.deepEqual(
      { type: f.type, flags: f.flags, seq: f.seq, payload: f.payload.toString('hex') },
      {
        type: reference.type,
        flags: reference.flags,
        seq: reference.seq,
        payload: reference.payload.toString('hex'),
      },
      what,
    )
  }
})

test.serial(
  'MAC session: a flipped payload byte or MAC byte is BAD_MAC and nothing is accepted',
  async (t) => {
    const { port, hmacKey } = t.context
    const a = await MipSocket.session(port, { module: 'hmac-1', hmacKey, mac: true })
    a.sock.write(encodeData(a.hwm + 1n, record('signed', 'any.stream'), a.sock.macKey))
    const base = await a.sock.ackFor(a.hwm + 1n)
    const tampered = encodeData(base + 1n, record('tampered', 'any.stream'), a.sock.macKey)
    tampered[22]! ^= 0x01 // inside the record: the MAC no longer matches
    a.sock.write(tampered)
    t.is(await a.sock.expectError(), ErrorCode.BAD_MAC)

    const b = await MipSocket.session(port, { module: 'hmac-1', hmacKey, mac: true })
    t.is(b.hwm, base, 'the tampered frame was not accepted')
    const badTrailer = encodeData(base + 1n, record('x', 'any.stream'), b.sock.macKey)
    badTrailer[badTrailer.length - 1]! ^= 0x80
    b.sock.write(badTrailer)
    t.is(await b.sock.expectError(), ErrorCode.BAD_MAC)

    const c = await MipSocket.session(port, { module: 'hmac-1', hmacKey, mac: true })
    t.is(c.hwm, base)
    c.sock.close()
  },
)

test.serial('a MAC-flagged frame in a session without MAC is BAD_FRAME', async (t) => {
  const { port, token, hmacKey } = t.context
  const tok = await MipSocket.session(port, { module: 'sensor-macless', token })
  tok.sock.write(encodeData(1n, record('x'), randomBytes(32)))
  t.is(await tok.sock.expectError(), ErrorCode.BAD_FRAME)
  // hmac without mac:true: no session key, so a MAC flag is just as wrong.
  const hm = await MipSocket.session(port, { module: 'hmac-1', hmacKey })
  hm.sock.write(encodeData(hm.hwm + 1n, record('x', 'any.stream'), randomBytes(32)))
  t.is(await hm.sock.expectError(), ErrorCode.BAD_FRAME)
})

test.serial(
  'scopes: DATA and BATCH outside write scopes are NACK FORBIDDEN; read scopes grant no writes',
  async (t) => {
    const { port, secrets } = t.context
    const { sock } = await MipSocket.session(port, { module: 'scoped-1', token: secrets.get('scoped-1')! })
    const nackCode = async () => {
      for (;;) {
        const f = await sock.next() // a NACKed frame is settled, so ACKs come in between
        if (f.type === FrameType.NACK) return { seq: f.seq, code: decodeNackOrError(f.payload).code }
        t.is(f.type, FrameType.ACK)
      }
    }
    sock.write(encodeData(1n, record('no', 'other.x')))
    t.deepEqual(await nackCode(), { seq: 1n, code: ErrorCode.FORBIDDEN })
    sock.write(encodeData(2n, record('no', 'telemetry'))) // `telemetry.*` needs the dot
    t.deepEqual(await nackCode(), { seq: 2n, code: ErrorCode.FORBIDDEN })
    sock.write(encodeBatchFrame(3n, [record('a'), record('b', 'telemetry.hum'), record('c', 'forbidden')]))
    t.deepEqual(await nackCode(), { seq: 3n, code: ErrorCode.FORBIDDEN })
    sock.write(encodeBatchFrame(4n, [record('a', 'nope')], { compress: true }))
    t.deepEqual(await nackCode(), { seq: 4n, code: ErrorCode.FORBIDDEN })
    sock.write(encodeData(5n, record('yes', 'telemetry.deep.er')))
    t.is(await sock.ackFor(5n), 5n)
    sock.close()
    // A NACK does not raise the high-water mark; the accepted seq 5 did.
    t.is((await MipSocket.session(port, { module: 'scoped-1', token: secrets.get('scoped-1')! })).hwm, 5n)
  },
)

test.serial('the admin scope may write any stream, in DATA and in BATCH', async (t) => {
  const { port, secrets } = t.context
  const { sock } = await MipSocket.session(port, { module: 'admin-1', token: secrets.get('admin-1')! })
  sock.write(encodeData(1n, record('a', 'anything')))
  sock.write(encodeData(2n, record('b', 'ai.scores')))
  sock.write(encodeBatchFrame(3n, [record('c', 'x.y.z'), record('d', 'telemetry.t'), record('e', 'Z_9-1')]))
  t.is(await sock.ackFor(3n), 3n)
  sock.close()
})

test.serial('a fleet pattern credential admits sensor-7; an exact entry wins over the pattern', async (t) => {
  const { port, token, secrets } = t.context
  const { sock } = await MipSocket.session(port, { module: 'sensor-7', token })
  sock.write(encodeData(1n, record('fleet')))
  t.is(await sock.ackFor(1n), 1n)
  sock.write(encodeData(2n, record('x', 'exact.x')))
  t.is(decodeNackOrError((await sock.expect(FrameType.NACK)).payload).code, ErrorCode.FORBIDDEN)
  sock.close()
  t.is(await helloCode(port, { module: 'sensor-7', token: secrets.get('sensor-8')! }), ErrorCode.AUTH_FAILED)
  // sensor-8 has its own entry: the fleet secret no longer works for it, its own does (own scopes).
  t.is(await helloCode(port, { module: 'sensor-8', token }), ErrorCode.AUTH_FAILED)
  const own = await MipSocket.session(port, { module: 'sensor-8', token: secrets.get('sensor-8')! })
  own.sock.write(encodeData(1n, record('mine', 'exact.x')))
  t.is(await own.sock.ackFor(1n), 1n)
  own.sock.close()
  t.is(await helloCode(port, { module: 'other-7', token }), ErrorCode.AUTH_FAILED)
})

test.serial(
  "reload: revoking a live session's credential ends it with AUTH_FAILED; its secret stops working",
  async (t) => {
    const { port, file } = t.context
    const secret = await addToken(file, 'live-rev', ['write:*'])
    await reloadBarrier(t)
    const { sock } = await MipSocket.session(port, { module: 'live-rev', token: secret })
    sock.write(encodeData(1n, record('before')))
    t.is(await sock.ackFor(1n), 1n)
    await revoke(file, 'live-rev')
    const err = await nextError(sock)
    t.is(err.code, ErrorCode.AUTH_FAILED)
    t.regex(err.message, /revoked/)
    await sock.closed()
    t.is(await helloCode(port, { module: 'live-rev', token: secret }), ErrorCode.AUTH_FAILED)
    // What it sent before the revocation stays durable and counted.
    await createToken(file, { module: 'live-rev', scopes: ['write:*'], kind: 'token' }).then(
      async ({ secret: s2 }) => {
        await reloadBarrier(t)
        t.is((await MipSocket.session(port, { module: 'live-rev', token: s2 })).hwm, 1n)
      },
    )
  },
)

test.serial(
  'reload: rotating or disabling a live credential ends its session; the new secret works',
  async (t) => {
    const { port, file } = t.context
    const rotSecret = await addToken(file, 'live-rot', ['write:*'])
    const disSecret = await addToken(file, 'live-dis', ['write:*'], { comment: 'mark-live-dis' })
    await reloadBarrier(t)
    const rot = await MipSocket.session(port, { module: 'live-rot', token: rotSecret })
    const dis = await MipSocket.session(port, { module: 'live-dis', token: disSecret })

    const rotated = await rotate(file, 'live-rot')
    t.is((await nextError(rot.sock)).code, ErrorCode.AUTH_FAILED)
    t.is(await helloCode(port, { module: 'live-rot', token: rotSecret }), ErrorCode.AUTH_FAILED)
    t.is(await helloCode(port, { module: 'live-rot', token: rotated.token! }), 'ok')

    await editFile(file, setInEntry('mark-live-dis', 'disabled: true'))
    const err = await nextError(dis.sock)
    t.is(err.code, ErrorCode.AUTH_FAILED)
    t.regex(err.message, /disabled/)
  },
)

test.serial(
  "reload: narrowing a live session's scopes ends it (policy: any change to its entry)",
  async (t) => {
    const { port, file } = t.context
    const secret = await addToken(file, 'live-scope', ['write:*'], { comment: 'mark-live-scope' })
    await reloadBarrier(t)
    const { sock } = await MipSocket.session(port, { module: 'live-scope', token: secret })
    await editFile(file, (text) =>
      text.replace(
        /(\n\s*)scopes:\n\s*- write:\*(\n\s*)(comment: mark-live-scope)/,
        '$1scopes:$1  - write:narrow.*$2$3',
      ),
    )
    t.is((await nextError(sock)).code, ErrorCode.AUTH_FAILED)
    const again = await MipSocket.session(port, { module: 'live-scope', token: secret })
    again.sock.write(encodeData(1n, record('wide', 'wide.x')))
    t.is(decodeNackOrError((await again.sock.expect(FrameType.NACK)).payload).code, ErrorCode.FORBIDDEN)
    again.sock.close()
  },
)

test.serial("reload: edits that do not touch a live session's entry leave it up", async (t) => {
  const { port, file, token } = t.context
  const secret = await addToken(file, 'live-keep', ['write:*'], { comment: 'keep-before' })
  const otherSecret = await addToken(file, 'live-other', ['write:*'])
  await reloadBarrier(t)
  const keep = await MipSocket.session(port, { module: 'live-keep', token: secret })
  const fleet = await MipSocket.session(port, { module: 'sensor-keep', token }) // admitted by the pattern
  const other = await MipSocket.session(port, { module: 'live-other', token: otherSecret })

  // Its own entry's comment, a file comment, another module's entry revoked, new entries added.
  await editFile(
    file,
    (text) => `# edited by hand\n${text.replace('comment: keep-before', 'comment: keep-after')}`,
  )
  await revoke(file, 'live-other')
  t.is((await nextError(other.sock)).code, ErrorCode.AUTH_FAILED)
  await reloadBarrier(t) // everything above is in force, and the review ran

  keep.sock.write(encodeData(1n, record('still here', 'any')))
  t.is(await keep.sock.ackFor(1n), 1n)
  fleet.sock.write(encodeData(1n, record('still here')))
  t.is(await fleet.sock.ackFor(1n), 1n)
  keep.sock.close()
  fleet.sock.close()
})

test.serial('reload: a broken credentials file keeps the last good set in force', async (t) => {
  const { port, file, token } = t.context
  const good = await readFile(file, 'utf8')
  const live = await MipSocket.session(port, { module: 'sensor-broken', token })
  await editFile(file, () => `${good}\nmodules: [this is: not valid\n`)
  // Give the watcher time to try (and fail); nothing is asserted about how long it takes.
  await new Promise((r) => setTimeout(r, 500))
  t.is(await helloCode(port, { module: 'sensor-other', token }), 'ok')
  live.sock.write(encodeData(1n, record('alive')))
  t.is(await live.sock.ackFor(1n), 1n)
  await editFile(file, () => good)
  await reloadBarrier(t)
  live.sock.write(encodeData(2n, record('alive')))
  t.is(await live.sock.ackFor(2n), 2n)
  live.sock.close()
})

test.serial("a live session ends with AUTH_FAILED when its credential's expiresAt passes", async (t) => {
  const { port, file } = t.context
  const expiresAt = new Date(Date.now() + 3000).toISOString()
  const secret = await addToken(file, 'live-exp', ['write:*'], { expiresAt })
  await reloadBarrier(t)
  const { sock } = await MipSocket.session(port, { module: 'live-exp', token: secret })
  sock.write(encodeData(1n, record('before expiry')))
  t.is(await sock.ackFor(1n), 1n)
  // Bounded: expiry in ≤ 3 s plus a sweep; IDLE_TIMEOUT (30 s by default) would come far later.
  const err = await nextError(sock, 3000 + RELOAD_WAIT_MS)
  t.is(err.code, ErrorCode.AUTH_FAILED)
  t.regex(err.message, /expired/)
  t.is(await helloCode(port, { module: 'live-exp', token: secret }), ErrorCode.AUTH_FAILED)
})
