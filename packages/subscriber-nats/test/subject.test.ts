import test from 'ava'
import { compileSubject, parseNatsConfig, sanitizeToken, sanitizeTokens } from '../src/index.ts'
import { subjectProblem, templateProblem } from '../src/subject.ts'

const map = (template: string, r: { stream: string; module: string; core?: string }) =>
  compileSubject(template, { prefix: 'mi', source: 'edge-1' })({ core: '', ...r })

test('default mapping: <prefix>.<stream>.<module>, dots in stream become tokens', (t) => {
  t.is(map('{prefix}.{stream}.{module}', { stream: 'temp', module: 'm1' }), 'mi.temp.m1')
  t.is(map('{prefix}.{stream}.{module}', { stream: 'env.temp', module: 'm1' }), 'mi.env.temp.m1')
})

test('module, core and source are one token each; unsafe characters become _', (t) => {
  t.is(
    map('{prefix}.{source}.{module}.{core}', { stream: 's', module: 'a.b c', core: 'x>y*' }),
    'mi.edge-1.a_b_c.x_y_',
  )
  t.is(map('{prefix}.{stream}.{module}.{core}', { stream: 's', module: 'm', core: '' }), 'mi.s.m._')
  t.is(map('{prefix}.{stream}', { stream: '.a..b.', module: 'm' }), 'mi._.a._.b._')
  t.is(map('{prefix}.{stream}', { stream: 'héllo wörld', module: 'm' }), 'mi.h_llo_w_rld')
})

test('sanitizers never produce empty tokens or wildcards', (t) => {
  for (const v of ['', '.', '*', '>', 'a b', '\t', 'a.b', 'ok-_1']) {
    t.is(subjectProblem(`p.${sanitizeToken(v)}`), null, v)
    t.is(subjectProblem(`p.${sanitizeTokens(v)}`), null, v)
  }
})

test('literal parts of a template are kept', (t) => {
  t.is(map('telemetry.{stream}.by-module.{module}', { stream: 'x', module: 'm' }), 'telemetry.x.by-module.m')
})

test('template validation', (t) => {
  t.is(templateProblem('{prefix}.{stream}.{module}'), null)
  t.regex(templateProblem('{prefix}.{nope}') ?? '', /unknown placeholder \{nope\}/)
  t.regex(templateProblem('{prefix}..{module}') ?? '', /empty token/)
  t.regex(templateProblem('{prefix}.>') ?? '', /wildcard/)
})

test('config: defaults, and precise errors', (t) => {
  const c = parseNatsConfig({})
  t.is(c.servers, 'nats://127.0.0.1:4222')
  t.is(c.stream, 'MI_TELEMETRY')
  t.is(c.subjectPrefix, 'mi')
  t.is(c.subject, '{prefix}.{stream}.{module}')
  t.true(c.createStream)
  t.is(typeof c.source, 'string')
  t.true(c.source.length > 0)
  t.throws(() => parseNatsConfig({ stream: 'a.b' }), { message: /stream/ })
  t.throws(() => parseNatsConfig({ subjectPrefix: 'a..b' }), { message: /empty token/ })
  t.throws(() => parseNatsConfig({ user: 'u', token: 't' }), { message: /choose one/ })
  t.throws(() => parseNatsConfig({ subject: 'other.{module}' }), { message: /must start with \{prefix\}/ })
  t.notThrows(() => parseNatsConfig({ subject: 'other.{module}', createStream: false }))
  t.throws(() => parseNatsConfig({ maxInFlight: 0 }))
  t.throws(() => parseNatsConfig({ bogus: 1 } as never), { message: /bogus/ })
  t.throws(() => parseNatsConfig({ source: 'a:b' }), { message: /must not contain whitespace/ })
})
