import test from 'ava'
import { bearerReadAccess, readPatterns, type VerifyOperator } from '../src/bearer.ts'

const operators: Record<string, readonly string[]> = {
  tok_a: ['read:kv.*', 'write:*'],
  tok_w: ['write:*'],
  tok_root: ['admin'],
}
const verify: VerifyOperator = (token) =>
  operators[token]
    ? { ok: true, operator: { name: token.slice(4), scopes: operators[token] } }
    : { ok: false, reason: 'bad-secret' }

test('a read scope grants its pattern, admin grants everything', (t) => {
  t.deepEqual(bearerReadAccess('Bearer tok_a', verify), { ok: true, operator: 'a', patterns: ['kv.*'] })
  t.deepEqual(bearerReadAccess('bearer   tok_root', verify), { ok: true, operator: 'root', patterns: ['*'] })
  t.deepEqual(readPatterns(['read:x', 'admin', 'write:y']), ['x', '*'])
})

test('no token or a rejected one is 401; no read scope is 403 naming the scope to add', (t) => {
  for (const h of [undefined, '', 'Basic abc', 'Bearer', 'Bearer a b', ['Bearer tok_a']]) {
    const r = bearerReadAccess(h, verify)
    t.like(r, { ok: false, status: 401 }, String(h))
  }
  t.deepEqual(bearerReadAccess('Bearer nope', verify), {
    ok: false,
    status: 401,
    message: 'token rejected (bad-secret)',
  })
  t.deepEqual(bearerReadAccess('Bearer tok_w', verify, 'read:<stream>'), {
    ok: false,
    status: 403,
    message: 'operator w has no read:<stream> scope',
  })
})
