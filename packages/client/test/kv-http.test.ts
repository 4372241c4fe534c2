// The kv SDK's read transport (src/kv-http.ts) against real listeners: node:http for the framings a
// server really sends (Content-Length, chunked, Connection: close, 204), and raw sockets for what
// node:http would not send on its own (a reply in single bytes, 1xx first, a body to the end of
// the connection, a keep-alive connection the server drops, a malformed reply).
import { once } from 'node:events'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { createTestPki } from '@module-ingest/testing'
import test from 'ava'
import { KeepAliveGet } from '../src/kv-http.ts'

async function listen(server: net.Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
}

/** A node:http server; every connection it accepted, counted. */
async function httpServer(handler: http.RequestListener) {
  const server = http.createServer(handler)
  let connections = 0
  server.on('connection', () => connections++)
  const url = await listen(server)
  return {
    url,
    connections: () => connections,
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(r))
    },
  }
}

/** A raw server: `onRequest(socket, head, n)` for each request head (n counts per connection). */
async function rawServer(onRequest: (socket: net.Socket, head: string, n: number) => void) {
  const sockets = new Set<net.Socket>()
  let connections = 0
  const server = net.createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buf = ''
    let n = 0
    socket.on('data', (d) => {
      buf += d.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end)
        buf = buf.slice(end + 4)
        onRequest(socket, head, n++)
      }
    })
  })
  const url = await listen(server)
  return {
    url,
    connections: () => connections,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((r) => server.close(r))
    },
  }
}

test('Content-Length replies over one kept-alive connection; request line and headers as given', async (t) => {
  const seen: Array<{ url?: string; auth?: string; host?: string }> = []
  const s = await httpServer((req, res) => {
    seen.push({ url: req.url, auth: req.headers.authorization, host: req.headers.host })
    res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ url: req.url, text: 'größe ✓' }))
  })
  const c = new KeepAliveGet(s.url)
  for (let i = 0; i < 5; i++) {
    const r = await c.get(`/kv/v1/get?ns=a&key=k${i}%20x`, { authorization: 'Bearer tok' })
    t.is(r.status, 200)
    t.is(r.type, 'application/json')
    t.deepEqual(JSON.parse(r.text), { url: `/kv/v1/get?ns=a&key=k${i}%20x`, text: 'größe ✓' })
  }
  const missing = await c.get('/missing', {})
  t.is(missing.status, 404)
  t.is(s.connections(), 1)
  t.deepEqual(seen[0], { url: '/kv/v1/get?ns=a&key=k0%20x', auth: 'Bearer tok', host: new URL(s.url).host })
  c.close()
  await s.close()
})

test('chunked replies (with a multi-byte character split across chunks), 204, Connection: close', async (t) => {
  const s = await httpServer((req, res) => {
    if (req.url === '/chunked') {
      const body = Buffer.from('{"v":"ü-ok"}')
      res.writeHead(200, { 'content-type': 'application/json' })
      // Split inside the two-byte ü.
      res.write(body.subarray(0, 7))
      setTimeout(() => res.end(body.subarray(7)), 5)
    } else if (req.url === '/empty') res.writeHead(204).end()
    else res.writeHead(200, { connection: 'close', 'content-type': 'text/plain' }).end('bye')
  })
  const c = new KeepAliveGet(s.url)
  const chunked = await c.get('/chunked', {})
  t.is(chunked.text, '{"v":"ü-ok"}')
  t.is((await c.get('/empty', {})).status, 204)
  t.is(s.connections(), 1)
  const closing = await c.get('/close', {})
  t.is(closing.text, 'bye')
  // The server said close: the next get needs a new connection.
  t.is((await c.get('/chunked', {})).text, '{"v":"ü-ok"}')
  t.is(s.connections(), 2)
  c.close()
  await s.close()
})

test('concurrent gets use one connection each, and the idle ones are reused after', async (t) => {
  const s = await httpServer((req, res) => setTimeout(() => res.end(req.url), 10))
  const c = new KeepAliveGet(s.url)
  const texts = await Promise.all([1, 2, 3].map((i) => c.get(`/${i}`, {})))
  t.deepEqual(
    texts.map((r) => r.text),
    ['/1', '/2', '/3'],
  )
  t.is(s.connections(), 3)
  await Promise.all([4, 5, 6].map((i) => c.get(`/${i}`, {})))
  t.is(s.connections(), 3)
  c.close()
  await s.close()
})

test('a reply that arrives a byte at a time, after a 100 Continue', async (t) => {
  const s = await rawServer((socket) => {
    const reply = Buffer.from(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\n{"a\r\n6\r\n":"é"\r\n2\r\n}\n\r\n0\r\nX-Trailer: 1\r\n\r\n',
    )
    let i = 0
    const next = () => {
      if (i < reply.length) socket.write(reply.subarray(i, ++i), next)
    }
    next()
  })
  const c = new KeepAliveGet(s.url)
  const r = await c.get('/', {})
  t.is(r.status, 200)
  t.is(r.text, '{"a":"é"}\n')
  // The connection is still good for the next request.
  t.is((await c.get('/', {})).text, '{"a":"é"}\n')
  t.is(s.connections(), 1)
  c.close()
  await s.close()
})

test('a body delimited by the end of the connection', async (t) => {
  const s = await rawServer((socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ')
    setTimeout(() => socket.end('part two'), 5)
  })
  const c = new KeepAliveGet(s.url)
  t.is((await c.get('/', {})).text, 'part one, part two')
  t.is((await c.get('/', {})).text, 'part one, part two')
  t.is(s.connections(), 2)
  c.close()
  await s.close()
})

test('a kept-alive connection the server dropped meanwhile is not used again', async (t) => {
  const s = await rawServer((socket, _head, n) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nr${n}`, () =>
      setTimeout(() => socket.destroy(), 5),
    )
  })
  const c = new KeepAliveGet(s.url)
  t.is((await c.get('/', {})).text, 'r0')
  await new Promise((r) => setTimeout(r, 50))
  t.is((await c.get('/', {})).text, 'r0')
  t.is(s.connections(), 2)
  c.close()
  await s.close()
})

test('the keep-alive race: a reused connection closed unanswered, the get is sent again once', async (t) => {
  // Answers a connection's first request; closes it, unanswered, on its second (as a server's
  // keep-alive timeout does when it fires just as the next request arrives).
  const s = await rawServer((socket, _head, n) => {
    if (n === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    else socket.destroy()
  })
  const c = new KeepAliveGet(s.url)
  for (let i = 0; i < 3; i++) t.is((await c.get('/', {})).text, 'ok')
  t.is(s.connections(), 3)
  c.close()
  await s.close()
})

test('a connection that dies mid-reply, or a malformed reply, rejects the get (not repeated)', async (t) => {
  let requests = 0
  const s = await rawServer((socket, head) => {
    requests++
    if (head.startsWith('GET /cut')) {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')
      setTimeout(() => socket.destroy(), 5)
    } else socket.write('SMTP ready\r\n\r\n')
  })
  const c = new KeepAliveGet(s.url)
  await t.throwsAsync(c.get('/cut', {}), { message: /closed before the reply ended/ })
  await t.throwsAsync(c.get('/bad', {}), { code: 'MI_ERR_KV_READ_FAILED', message: /malformed HTTP reply/ })
  t.is(requests, 2)
  c.close()
  await s.close()
})

test('a closed port rejects with the socket error; other protocols are refused up front', async (t) => {
  const s = net.createServer()
  const url = await listen(s)
  await new Promise((r) => s.close(r))
  const c = new KeepAliveGet(url)
  await t.throwsAsync(c.get('/', {}), { code: 'ECONNREFUSED' })
  t.throws(() => new KeepAliveGet('ftp://127.0.0.1:21'), { code: 'MI_ERR_KV_READ_FAILED' })
  // Nothing is sent with a header value or target that would split the request.
  await t.throwsAsync(c.get('/', { authorization: 'Bearer x\r\nX-Evil: 1' }), {
    code: 'MI_ERR_KV_READ_FAILED',
  })
  await t.throwsAsync(c.get('/a b', {}), { code: 'MI_ERR_KV_READ_FAILED' })
})

test('an idle connection is closed by the client a second before the Keep-Alive timeout the server gave', async (t) => {
  let closed: () => void = () => {}
  const clientClosed = new Promise<void>((r) => {
    closed = r
  })
  // Never closes a connection itself; says it keeps them 2 s (1 s: the client closes at once).
  const s = await rawServer((socket, head) => {
    socket.once('end', closed)
    const timeout = head.startsWith('GET /short') ? 1 : 2
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=${timeout}\r\n\r\nok`)
  })
  const c = new KeepAliveGet(s.url)
  t.is((await c.get('/', {})).text, 'ok')
  t.is((await c.get('/', {})).text, 'ok')
  await clientClosed
  t.is(s.connections(), 1)
  t.is((await c.get('/short', {})).text, 'ok')
  t.is((await c.get('/short', {})).text, 'ok')
  t.is(s.connections(), 3)
  c.close()
  await s.close()
})

test('https: the server certificate is checked (name and CA), and the connection kept alive', async (t) => {
  const pki = createTestPki()
  t.teardown(() => pki.remove())
  const cert = pki.issueServer()
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) =>
    res.end(`tls ${req.url}`),
  )
  let connections = 0
  server.on('secureConnection', () => connections++)
  const port = Number(new URL(await listen(server)).port)
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((r) => server.close(() => r()))
  })
  const c = new KeepAliveGet(`https://localhost:${port}`, { ca: pki.ca })
  t.is((await c.get('/a', {})).text, 'tls /a')
  t.is((await c.get('/b', {})).text, 'tls /b')
  t.is(connections, 1)
  c.close()
  // Without the test CA the platform's CAs do not vouch for it.
  await t.throwsAsync(new KeepAliveGet(`https://localhost:${port}`).get('/', {}), {
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  })
})
