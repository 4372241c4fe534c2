/**
 * A lane in front of node:http for the one request a read API answers most: a plain keep-alive
 * `GET` whose JSON reply can be computed synchronously (the kv get). It reads the request head
 * from the socket itself and writes status line, headers and body in one write, so such a request
 * costs no IncomingMessage, ServerResponse, stream or promise machinery: on the reads thread this
 * halved the CPU and cut the heap allocated per get ~6× (docs/kv.md "Reads"), and with it the
 * young-generation collections that paused the thread every few hundred gets.
 *
 * Anything else — another method or version, a body, `Connection: close`/upgrade, non-ASCII or
 * folded headers, a head past 16 KiB, or a request the answerer declines — hands the connection,
 * with every byte not yet answered, to the node:http server for good, which answers it as before
 * (its errors, its 404s, its limits). So the lane only ever answers what node:http would have
 * answered with the same status, headers and body.
 */
import type { Socket } from 'node:net'

/**
 * Answer a GET of `url` (path and query as sent) with this `authorization` header (undefined when
 * absent): the 200 reply's JSON text, or undefined to let node:http handle the request.
 */
export type FastGet = (url: string, authorization: string | undefined) => string | undefined

/** A head longer than this is node:http's to judge (it answers 431 past its own limit). */
const kMaxHead = 16 * 1024
/** A head still incomplete after this long is node:http's to time out (its headersTimeout is 60 s). */
const kHeadMsNs = 10_000n * 1_000_000n

/** node:http's `Date` header: the same text for a whole second. */
let dateSecond = 0
let dateText = ''
function httpDate(): string {
  const s = Math.floor(Date.now() / 1000)
  if (s !== dateSecond) {
    dateSecond = s
    dateText = new Date(s * 1000).toUTCString()
  }
  return dateText
}

/** The request head `head` (latin1, without the final CRLFCRLF) → [url, authorization] or undefined. */
function parseHead(head: string): [string, string | undefined] | undefined {
  if (!head.startsWith('GET /')) return undefined
  const eol = head.indexOf('\r\n')
  const line = eol < 0 ? head : head.slice(0, eol)
  if (!line.endsWith(' HTTP/1.1')) return undefined
  const url = line.slice(4, -9)
  // Non-ASCII or control bytes, a space in the target: node:http's rules decide.
  if (!/^[\x21-\x7e]+$/.test(url)) return undefined
  let authorization: string | undefined
  let host = false
  for (let i = eol; i >= 0; ) {
    const start = i + 2
    const next = head.indexOf('\r\n', start)
    const h = next < 0 ? head.slice(start) : head.slice(start, next)
    i = next
    const colon = h.indexOf(':')
    // Folded (obs-fold) or malformed lines, a name that is not a token ("Content-Length : 5"
    // would otherwise hide a body), non-ASCII values: not ours.
    if (colon <= 0 || !/^[\x20-\x7e\t]*$/.test(h)) return undefined
    const name = h.slice(0, colon).toLowerCase()
    if (!/^[-!#$%&'*+.^_`|~0-9a-z]+$/.test(name)) return undefined
    const value = h.slice(colon + 1).trim()
    switch (name) {
      case 'authorization':
        if (authorization !== undefined) return undefined
        authorization = value
        break
      case 'host':
        if (host) return undefined
        host = true
        break
      case 'connection':
        if (!/^keep-alive$/i.test(value)) return undefined
        break
      case 'content-length':
        if (value !== '0') return undefined
        break
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
        return undefined
    }
  }
  // HTTP/1.1 requires Host; node:http answers 400 without it.
  return host ? [url, authorization] : undefined
}

export interface FastLaneOptions {
  answer: FastGet
  /** node:http's keepAliveTimeout: an idle connection is closed after it. */
  keepAliveMs: number
  /** Called after each reply the lane wrote, with its arrival time (process.hrtime.bigint()). */
  onServed?: (arrivedNs: bigint) => void
}

/**
 * Serve `socket` on the lane until a request is not ours, then give it to `toHttp` (node:http's
 * own connection listener) with the bytes not yet answered back in its read buffer.
 */
export function fastLane(socket: Socket, toHttp: (socket: Socket) => void, o: FastLaneOptions): void {
  let pending: Buffer | null = null
  let handedOver = false
  socket.setNoDelay(true)
  socket.setTimeout(o.keepAliveMs, () => socket.destroy())
  socket.on('error', () => socket.destroy())

  const handOver = (rest: Buffer | null) => {
    handedOver = true
    socket.off('data', onData)
    socket.setTimeout(0)
    socket.removeAllListeners('timeout')
    socket.removeAllListeners('error')
    socket.pause()
    if (rest && rest.length > 0) socket.unshift(rest)
    toHttp(socket)
    process.nextTick(() => socket.resume())
  }

  const pump = (arrived: bigint) => {
    let buf = pending!
    let start = 0
    for (;;) {
      const end = buf.indexOf('\r\n\r\n', start, 'latin1')
      // A head ended by bare LFs: node:http's to refuse.
      if (end < 0 && buf.indexOf('\n\n', start, 'latin1') >= 0) return handOver(buf.subarray(start))
      if (end < 0) break
      const req = end - start > kMaxHead ? undefined : parseHead(buf.toString('latin1', start, end))
      let body: string | undefined
      try {
        body = req && o.answer(req[0], req[1])
      } catch {
        // node:http's handlers run it again and answer the error as they answer every error.
        body = undefined
      }
      if (body === undefined) return handOver(buf.subarray(start))
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nDate: ${httpDate()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(o.keepAliveMs / 1000)}\r\n\r\n${body}`,
      )
      o.onServed?.(arrived)
      start = end + 4
      if (socket.writableNeedDrain) {
        // A client that sends without reading: wait for it, as node:http does.
        pending = start < buf.length ? buf.subarray(start) : null
        socket.pause()
        socket.once('drain', () => {
          if (handedOver || socket.destroyed) return
          socket.resume()
          if (pending) pump(process.hrtime.bigint())
        })
        return
      }
    }
    buf = start < buf.length ? buf.subarray(start) : Buffer.alloc(0)
    if (buf.length > kMaxHead) return handOver(buf)
    pending = buf.length > 0 ? buf : null
  }

  // When the unanswered head started: a head trickling in for longer than node:http's
  // headersTimeout would allow goes to node:http, which times it out (slowloris).
  let partialSince = 0n
  const onData = (chunk: Buffer) => {
    const arrived = process.hrtime.bigint()
    if (pending && partialSince !== 0n && arrived - partialSince > kHeadMsNs)
      return handOver(Buffer.concat([pending, chunk]))
    pending = pending ? Buffer.concat([pending, chunk]) : chunk
    if (!socket.isPaused()) pump(arrived)
    partialSince = pending === null ? 0n : partialSince || arrived
  }
  socket.on('data', onData)
}
