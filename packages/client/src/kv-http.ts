/**
 * The kv SDK's read transport: HTTP/1.1 GETs over kept-alive connections, written for the one
 * thing it does. A kv get is a ~300-byte request and a ~200-byte JSON reply; with `node:http` and
 * a keep-alive Agent the client spent ~90–120 µs of CPU per get on its request/response objects,
 * streams and header maps — more than the server's whole get, and twice what a Redis client
 * spends per GET. This spends ~20 µs: one string written per request, the reply parsed from the
 * bytes (status, the few headers that frame it, the body), no per-request objects besides the
 * reply. (`fetch` cost ~230 µs, an undici `Client` ~80–100 µs: benchmarks/src/kv-get-client.ts.)
 *
 * What it speaks: `GET` with headers, over `http:` or `https:` (TLS with the platform's CA and
 * hostname checks); replies framed by Content-Length, chunked transfer coding, or the connection's
 * end; 1xx replies skipped; `Connection: close` and HTTP/1.0 honoured. One request per connection
 * at a time; concurrent gets open more connections, and idle ones are kept (unref'd:
 * they never hold a process open) until the server's `Keep-Alive: timeout` (less a second) or
 * 4 s. A request on a reused connection that the server had closed meanwhile (the keep-alive race)
 * is sent again once on a new connection — only when not one byte of its reply arrived: a GET is
 * safe to repeat.
 */
import net from 'node:net'
import tls from 'node:tls'
import { MI_ERR_KV_READ_FAILED } from '@module-ingest/kv-protocol'

export interface GetReply {
  status: number
  /** The Content-Type header, if any. */
  type: string | undefined
  text: string
}

/** Without a `Keep-Alive: timeout=` hint from the server, an idle connection is closed after this. */
const kIdleMs = 4000
/** A reply head past this is not a kv reply. */
const kMaxHead = 64 * 1024

const malformed = (what: string) => new MI_ERR_KV_READ_FAILED(0, `malformed HTTP reply: ${what}`)

interface Pending {
  head: string
  resolve: (r: GetReply) => void
  reject: (e: Error) => void
  /** Sent on a connection that had served a request before: may be repeated if it died unanswered. */
  reused: boolean
  retry: () => void
}

/** Where a reply's parse is: the head, then a body of known length, chunks, or to the end. */
const Body = { Head: 0, Length: 1, Chunked: 2, ToEnd: 3 } as const
type BodyState = (typeof Body)[keyof typeof Body]

class Conn {
  readonly socket: net.Socket
  #pending: Pending | null = null
  #buf: Buffer | null = null
  #state: BodyState = Body.Head
  #status = 0
  #type: string | undefined
  #close = false
  #remaining = 0
  #chunks: Buffer[] = []
  /** Bytes of the current reply seen (a reused connection's request is repeated only at 0). */
  #got = 0
  #served = 0
  /** Closes the connection once it has been idle for idleMs; armed once, not per request. */
  #idleTimer: NodeJS.Timeout | null = null
  /** When the connection last became idle (performance.now()), or -1 while a request is out. */
  #idleSince = -1
  idleMs = kIdleMs
  dead = false

  readonly onIdle: (c: Conn) => void
  readonly onDead: (c: Conn) => void

  constructor(socket: net.Socket, onIdle: (c: Conn) => void, onDead: (c: Conn) => void) {
    this.socket = socket
    this.onIdle = onIdle
    this.onDead = onDead
    socket.setNoDelay(true)
    socket.on('data', (d: Buffer) => this.#onData(d))
    socket.on('error', (err) => this.#fail(err))
    socket.on('close', () => this.#fail(new Error('the connection closed before the reply ended')))
  }

  send(p: Pending): void {
    this.#idleSince = -1
    this.socket.ref()
    p.reused = this.#served > 0
    this.#pending = p
    this.#got = 0
    this.socket.write(p.head)
  }

  #fail(err: Error): void {
    if (this.dead) return
    this.dead = true
    if (this.#idleTimer) clearTimeout(this.#idleTimer)
    this.socket.destroy()
    this.onDead(this)
    const p = this.#pending
    this.#pending = null
    if (!p) return
    if (this.#state === Body.ToEnd && this.#got > 0 && err.message.startsWith('the connection closed')) {
      // A body delimited by the connection's end: this is its end.
      this.#state = Body.Head
      return p.resolve(this.#reply())
    }
    if (p.reused && this.#got === 0) p.retry()
    else p.reject(err)
  }

  #reply(): GetReply {
    const text =
      this.#chunks.length === 1
        ? this.#chunks[0]!.toString('utf8')
        : Buffer.concat(this.#chunks).toString('utf8')
    this.#chunks = []
    return { status: this.#status, type: this.#type, text }
  }

  #onData(d: Buffer): void {
    if (!this.#pending) {
      // Bytes no request asked for: not a server to keep talking to.
      this.#fail(malformed('data outside a reply'))
      return
    }
    this.#got += d.length
    this.#buf = this.#buf ? Buffer.concat([this.#buf, d]) : d
    try {
      this.#parse()
    } catch (err) {
      this.#fail(err as Error)
    }
  }

  #parse(): void {
    for (;;) {
      const buf = this.#buf
      if (!buf || !this.#pending) return
      switch (this.#state) {
        case Body.Head: {
          const end = buf.indexOf('\r\n\r\n', 0, 'latin1')
          if (end < 0) {
            if (buf.length > kMaxHead) throw malformed('head too long')
            return
          }
          const next = this.#head(buf.toString('latin1', 0, end))
          this.#buf = end + 4 < buf.length ? buf.subarray(end + 4) : null
          // 1xx (informational): the real reply follows.
          if (this.#status < 200) continue
          this.#state = next
          if (next === Body.Length && this.#remaining === 0) this.#done()
          continue
        }
        case Body.Length: {
          const n = Math.min(this.#remaining, buf.length)
          this.#chunks.push(n === buf.length ? buf : buf.subarray(0, n))
          this.#remaining -= n
          this.#buf = n < buf.length ? buf.subarray(n) : null
          if (this.#remaining === 0) this.#done()
          continue
        }
        case Body.Chunked: {
          if (!this.#chunk(buf)) return
          continue
        }
        case Body.ToEnd:
          this.#chunks.push(buf)
          this.#buf = null
          return
      }
    }
  }

  /** One step of chunked decoding; false when more bytes are needed. */
  #chunk(buf: Buffer): boolean {
    if (this.#remaining > 0) {
      // Inside a chunk's data, then its CRLF (counted in #remaining as 2).
      const n = Math.min(this.#remaining, buf.length)
      const data = Math.max(0, Math.min(n, this.#remaining - 2))
      if (data > 0) this.#chunks.push(buf.subarray(0, data))
      this.#remaining -= n
      this.#buf = n < buf.length ? buf.subarray(n) : null
      return this.#buf !== null
    }
    const eol = buf.indexOf('\r\n', 0, 'latin1')
    if (eol < 0) {
      if (buf.length > kMaxHead) throw malformed('chunk size line too long')
      return false
    }
    const line = buf.toString('latin1', 0, eol)
    const size = Number.parseInt(line, 16)
    if (!/^[0-9a-fA-F]+/.test(line) || !Number.isSafeInteger(size)) throw malformed(`chunk size "${line}"`)
    if (size > 0) {
      this.#remaining = size + 2
      this.#buf = eol + 2 < buf.length ? buf.subarray(eol + 2) : null
      return this.#buf !== null
    }
    // The last chunk: skip its trailer lines up to the empty line (none: "0\r\n\r\n").
    const end = buf.indexOf('\r\n\r\n', eol, 'latin1')
    if (end < 0) {
      if (buf.length > kMaxHead) throw malformed('trailers too long')
      return false
    }
    this.#buf = end + 4 < buf.length ? buf.subarray(end + 4) : null
    this.#done()
    return true
  }

  /** Parse a reply head; returns how its body is framed. */
  #head(head: string): BodyState {
    const eol = head.indexOf('\r\n')
    const line = eol < 0 ? head : head.slice(0, eol)
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(line)
    if (!m) throw malformed(`status line "${line.slice(0, 80)}"`)
    this.#status = Number(m[2])
    let close = m[1] === '0'
    let length = -1
    let chunked = false
    this.#type = undefined
    for (let i = eol; i >= 0; ) {
      const start = i + 2
      const next = head.indexOf('\r\n', start)
      i = next
      const colon = head.indexOf(':', start)
      if (colon < 0 || (next >= 0 && colon > next)) continue
      const name = head.slice(start, colon).trim().toLowerCase()
      const value = head.slice(colon + 1, next < 0 ? head.length : next).trim()
      switch (name) {
        case 'content-length': {
          if (!/^\d+$/.test(value) || (length >= 0 && Number(value) !== length))
            throw malformed(`content-length "${value}"`)
          length = Number(value)
          break
        }
        case 'transfer-encoding':
          chunked = /(^|,)\s*chunked\s*$/i.test(value)
          if (!chunked) throw malformed(`transfer-encoding "${value}"`)
          break
        case 'connection':
          if (/(^|,)\s*close\s*(,|$)/i.test(value)) close = true
          else if (m[1] === '0' && /(^|,)\s*keep-alive\s*(,|$)/i.test(value)) close = false
          break
        case 'keep-alive': {
          const t = /timeout=(\d+)/i.exec(value)
          if (t) this.idleMs = Math.max(0, Number(t[1]) * 1000 - 1000)
          break
        }
        case 'content-type':
          this.#type = value
          break
      }
    }
    this.#close = close
    this.#chunks = []
    this.#remaining = 0
    if (this.#status < 200 || this.#status === 204 || this.#status === 304) return Body.Length
    if (chunked) return Body.Chunked
    if (length >= 0) {
      this.#remaining = length
      return Body.Length
    }
    this.#close = true
    return Body.ToEnd
  }

  #armIdle(ms: number): void {
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null
      if (this.dead || this.#idleSince < 0) return
      const left = this.#idleSince + this.idleMs - performance.now()
      if (left <= 0) this.#fail(new Error('idle'))
      else this.#armIdle(left)
    }, ms)
    this.#idleTimer.unref()
  }

  #done(): void {
    const p = this.#pending!
    this.#pending = null
    this.#state = Body.Head
    this.#served++
    const reply = this.#reply()
    if (this.#close || this.#buf !== null || this.idleMs <= 0) {
      // The server closes, or sent bytes no request asked for: this connection is done.
      this.dead = true
      this.#buf = null
      this.socket.destroy()
      this.onDead(this)
    } else {
      this.socket.unref()
      this.#idleSince = performance.now()
      // One timer per connection, re-armed for the rest of the idle time when it fires early:
      // a Timeout per get was a few per cent of a get's client CPU and allocation.
      if (!this.#idleTimer) this.#armIdle(this.idleMs)
      this.onIdle(this)
    }
    p.resolve(reply)
  }
}

/** GETs to one origin over kept-alive connections; see the file's comment. */
export class KeepAliveGet {
  readonly #idle: Conn[] = []
  readonly #host: string
  readonly #port: number
  readonly #tls: boolean
  readonly #hostHeader: string
  readonly #tlsOptions: tls.ConnectionOptions

  /**
   * `base`: the server, e.g. `http://127.0.0.1:7413` (its path is not used); `tlsOptions` for
   * `https:` (say a `ca`), on top of the platform's defaults.
   */
  constructor(base: string | URL, tlsOptions: tls.ConnectionOptions = {}) {
    this.#tlsOptions = tlsOptions
    const url = new URL(base)
    this.#tls = url.protocol === 'https:'
    if (!this.#tls && url.protocol !== 'http:')
      throw new MI_ERR_KV_READ_FAILED(0, `unsupported protocol ${url.protocol} (http: or https:)`)
    this.#host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    this.#port = Number(url.port) || (this.#tls ? 443 : 80)
    this.#hostHeader = url.host
  }

  /** GET `target` (path and query, already encoded) with these request headers. */
  get(target: string, headers: Record<string, string>): Promise<GetReply> {
    let head = `GET ${target} HTTP/1.1\r\nHost: ${this.#hostHeader}\r\n`
    for (const k in headers) {
      const v = headers[k]!
      // A CR or LF would end the header early (header injection); node:http refuses them too.
      if (/[\r\n]/.test(v) || /[\r\n:]/.test(k))
        return Promise.reject(new MI_ERR_KV_READ_FAILED(0, `invalid character in header "${k}"`))
      head += `${k}: ${v}\r\n`
    }
    if (/[\s]/.test(target)) return Promise.reject(new MI_ERR_KV_READ_FAILED(0, 'invalid request target'))
    head += 'Connection: keep-alive\r\n\r\n'
    return new Promise<GetReply>((resolve, reject) => {
      const p: Pending = { head, resolve, reject, reused: false, retry: () => this.#conn(true).send(p) }
      this.#conn(false).send(p)
    })
  }

  /** Close every idle connection (one in use closes when its reply is done). */
  close(): void {
    for (const c of this.#idle.splice(0)) c.socket.destroy()
  }

  #conn(fresh: boolean): Conn {
    if (!fresh)
      while (this.#idle.length > 0) {
        const c = this.#idle.pop()!
        if (!c.dead) return c
      }
    const o = { host: this.#host, port: this.#port }
    const socket = this.#tls
      ? tls.connect({
          ...this.#tlsOptions,
          ...o,
          ...(net.isIP(this.#host) ? {} : { servername: this.#host }),
        })
      : net.connect(o)
    return new Conn(
      socket,
      (c) => this.#idle.push(c),
      (c) => {
        const i = this.#idle.indexOf(c)
        if (i >= 0) this.#idle.splice(i, 1)
      },
    )
  }
}
