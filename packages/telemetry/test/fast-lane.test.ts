import { connect } from 'node:net'
import test from 'ava'
import { type FastGet, listenHttp } from '../src/http-listener.ts'

/** Answers `GET /fast?<x>` with `{"x":"<x>"}` when authorized; node:http answers the rest. */
const answer: FastGet = (url, authorization) => {
  if (url === '/fast?throw') throw new Error('store gone')
  return url.startsWith('/fast?') && authorization === 'Bearer ok' ? `{"x":"${url.slice(6)}"}\n` : undefined
}

async function start(t: import('ava').ExecutionContext, fast: boolean) {
  let served = 0
  const l = await listenHttp({
    port: 0,
    handlers: [
      (req, res) => {
        if (req.url === '/fast?throw') throw new Error('store gone')
        if (!req.url?.startsWith('/fast?') || req.headers.authorization !== 'Bearer ok') return false
        const body = `{"x":"${req.url.slice(6)}"}\n`
        res.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'cache-control': 'no-store',
        })
        res.end(body)
        return true
      },
    ],
    ...(fast ? { fastGet: answer, onFastServed: () => void served++ } : {}),
  })
  t.teardown(() => l.close())
  return { port: l.address.port, served: () => served }
}

/** Send raw bytes (in pieces, to test split heads) on one connection; collect until `until` replies. */
function exchange(port: number, pieces: string[], until: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    let got = ''
    s.setEncoding('latin1')
    s.on('data', (d: string) => {
      got += d
      if (got.split('HTTP/1.1 ').length - 1 >= until && /\r\n\r\n[\s\S]*$/.test(got)) {
        // Wait a moment for a body still in flight.
        setTimeout(() => {
          s.destroy()
          resolve(got)
        }, 50)
      }
    })
    s.on('error', reject)
    s.on('connect', async () => {
      for (const p of pieces) {
        s.write(p)
        await new Promise((r) => setTimeout(r, 5))
      }
    })
  })
}

const noDate = (s: string) => s.replace(/Date: [^\r]+\r\n/g, 'Date: -\r\n')
const req = (path: string, extra = 'Authorization: Bearer ok\r\n') =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}Connection: keep-alive\r\n\r\n`

test('the lane answers what node:http answers, byte for byte, and hands the rest over with its bytes', async (t) => {
  const lane = await start(t, true)
  const plain = await start(t, false)
  // Pipelined: two lane answers, a request the lane declines (404 from node:http), then a lane
  // request that node:http now answers (the connection stays with it); the third request's head
  // arrives split.
  const r = [req('/fast?a'), req('/fast?b'), req('/other'), req('/fast?c')].join('')
  const pieces = [r.slice(0, 70), r.slice(70, 200), r.slice(200)]
  const viaLane = await exchange(lane.port, pieces, 4)
  const viaHttp = await exchange(plain.port, pieces, 4)
  t.is(noDate(viaLane), noDate(viaHttp))
  t.regex(viaLane, /"x":"a"[\s\S]*"x":"b"[\s\S]*404[\s\S]*"x":"c"/)
  t.is(lane.served(), 2)
})

test('the lane declines what it cannot vouch for: node:http answers it', async (t) => {
  const lane = await start(t, true)
  const plain = await start(t, false)
  const cases = [
    req('/fast?a', 'Authorization: Bearer no\r\n'), // declined by the answerer
    req('/fast?a', ''), // no authorization
    req('/fast?throw'), // the answerer throws: node:http's handlers answer (500)
    'GET /fast?a HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer ok\r\n\r\n',
    'HEAD /fast?a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\n\r\n',
    'GET /fast?a HTTP/1.1\r\nAuthorization: Bearer ok\r\n\r\n', // no Host: 400
    'GET /fast?a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\nConnection: close\r\n\r\n',
    'GET /fast?a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\nContent-Length: 2\r\n\r\nhi',
    // A name that is not a token must not hide a body (node:http: 400).
    'GET /fast?a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\nContent-Length : 2\r\n\r\nhi',
    'GET /fast?a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\n folded\r\n\r\n',
    'GET /fast?a HTTP/1.1\nHost: x\nAuthorization: Bearer ok\n\n', // bare LF
    req(`/fast?${'a'.repeat(17_000)}`), // past node:http's header size limit: 431
  ]
  for (const c of cases) {
    const a = await exchange(lane.port, [c], 1)
    const b = await exchange(plain.port, [c], 1)
    t.is(noDate(a), noDate(b), c)
  }
  t.is(lane.served(), 0)
})

test('fetch and node:http clients get the same replies through the lane', async (t) => {
  const lane = await start(t, true)
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`http://127.0.0.1:${lane.port}/fast?k${i}`, {
      headers: { authorization: 'Bearer ok' },
    })
    t.is(r.status, 200)
    t.is(r.headers.get('cache-control'), 'no-store')
    t.deepEqual(await r.json(), { x: `k${i}` })
  }
  const r = await fetch(`http://127.0.0.1:${lane.port}/nope`)
  t.is(r.status, 404)
  t.is(lane.served(), 3)
})
