import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import test from 'ava'
import { HttpError, JsonText, jsonApiHandler, QueryParams } from '../src/json-api.ts'

class Coded extends Error {}

async function serve(t: import('ava').ExecutionContext) {
  const handler = jsonApiHandler({
    prefix: '/x/v1/',
    routes: {
      echo(q, patterns) {
        const p = new QueryParams(q, ['n', 's'])
        return { n: p.int('n', 7, 1, 10), s: p.string('s') ?? null, patterns }
      },
      coded: () => {
        throw new Coded('mapped')
      },
      crash: () => {
        throw new Error('not mapped')
      },
      text: () => new JsonText(['{"a":', Buffer.from('[1,2]'), ',"b":"é"}']),
      slow: async () => {
        throw new HttpError(504, 'late', { code: 'MI_ERR_X' })
      },
    },
    authorize: (req) =>
      req.headers.authorization === 'ok'
        ? { ok: true, patterns: ['a.*'] }
        : { ok: false, status: 401, message: 'who are you' },
    getOnly: 'only GET here',
    mapError: (err) => (err instanceof Coded ? new HttpError(400, err.message, { code: 'C' }) : undefined),
  })
  const server = createServer(async (req, res) => {
    try {
      if (!(await handler(req, res))) res.writeHead(418).end()
    } catch {
      res.writeHead(500).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return async (path: string, init: RequestInit = { headers: { authorization: 'ok' } }) => {
    const res = await fetch(`${base}${path}`, init)
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
  }
}

test('routes answer JSON; parameters are strict; errors carry status, message and extras', async (t) => {
  const get = await serve(t)
  t.deepEqual((await get('/x/v1/echo?n=3')).body, { n: 3, s: null, patterns: ['a.*'] })
  t.deepEqual((await get('/x/v1/echo')).body.n, 7)
  const cases: Array<[string, number, RegExp]> = [
    ['/x/v1/echo?n=11', 400, /parameter "n": expected an integer from 1 to 10, got "11"/],
    ['/x/v1/echo?m=1', 400, /unknown parameter "m" \(this endpoint takes: n, s\)/],
    ['/x/v1/echo?s=1&s=2', 400, /parameter "s" given more than once/],
    ['/x/v1/echo?s=', 400, /parameter "s" is empty/],
    ['/x/v1/nope', 404, /no endpoint \/x\/v1\/nope \(known: echo, coded, crash, text, slow\)/],
  ]
  for (const [path, status, message] of cases) {
    const r = await get(path)
    t.is(r.status, status, path)
    t.is(r.body.error.status, status)
    t.regex(r.body.error.message, message)
  }
  t.deepEqual((await get('/x/v1/slow')).body, { error: { status: 504, message: 'late', code: 'MI_ERR_X' } })
  t.deepEqual((await get('/x/v1/coded')).body, { error: { status: 400, message: 'mapped', code: 'C' } })
  t.is((await get('/x/v1/crash')).status, 500, 'an unmapped error is the listener’s to answer')
  t.is((await get('/elsewhere')).status, 418, 'outside the prefix: passed on')
})

test('401 asks for a bearer token; 405 allows GET', async (t) => {
  const get = await serve(t)
  const denied = await get('/x/v1/echo', {})
  t.is(denied.status, 401)
  t.is(denied.headers.get('www-authenticate'), 'Bearer realm="module-ingest"')
  t.is(denied.body.error.message, 'who are you')
  const post = await get('/x/v1/echo', { method: 'POST', headers: { authorization: 'ok' } })
  t.is(post.status, 405)
  t.is(post.headers.get('allow'), 'GET')
  t.is(post.body.error.message, 'only GET here')
})

test('a route may answer JSON it encoded itself (JsonText parts, strings and bytes)', async (t) => {
  const get = await serve(t)
  const r = await get('/x/v1/text')
  t.is(r.status, 200)
  t.deepEqual(r.body, { a: [1, 2], b: 'é' })
  // One line, its length in bytes (é is two).
  t.is(r.headers.get('content-length'), String(Buffer.byteLength('{"a":[1,2],"b":"é"}\n')))
  t.is(r.headers.get('content-type'), 'application/json; charset=utf-8')
})
