import test from 'ava'
import { isValidModuleName, isValidStreamName, matchPattern, matchScope } from '../src/index.ts'

test('module and core names: 1..128 of [A-Za-z0-9._:-]', (t) => {
  for (const ok of ['m', 'sensor-1', 'a:b.c_d', 'x'.repeat(128), '.leading-dot-ok'])
    t.true(isValidModuleName(ok), ok)
  for (const bad of ['', 'x'.repeat(129), 'a b', 'a/b', 'ü', 5, null])
    t.false(isValidModuleName(bad), String(bad))
})

test('stream names', (t) => {
  t.true(isValidStreamName('telemetry.gps'))
  t.false(isValidStreamName('.x'))
  t.false(isValidStreamName('a:b'))
})

test('patterns: * matches any run, dots included; the rest is literal', (t) => {
  t.true(matchPattern('telemetry.*', 'telemetry.gps'))
  t.true(matchPattern('telemetry.*', 'telemetry.gps.raw'))
  t.true(matchPattern('telemetry.*', 'telemetry.'))
  t.false(matchPattern('telemetry.*', 'telemetry'))
  t.true(matchPattern('*', 'anything'))
  t.true(matchPattern('a*b*c', 'aXXbYYc'))
  t.false(matchPattern('a*b*c', 'aXXbYY'))
  t.true(matchPattern('ai.scores', 'ai.scores'))
  t.false(matchPattern('ai.scores', 'aiXscores'), '. is literal, not a regex wildcard')
  t.true(matchPattern('**', ''))
})

test('matchScope: write/read prefixes, admin implies all', (t) => {
  const scopes = ['write:telemetry.*', 'read:ai.scores']
  t.true(matchScope(scopes, 'write', 'telemetry.gps'))
  t.false(matchScope(scopes, 'read', 'telemetry.gps'))
  t.true(matchScope(scopes, 'read', 'ai.scores'))
  t.false(matchScope(scopes, 'write', 'ai.scores'))
  t.true(matchScope(['admin'], 'write', 'x'))
  t.true(matchScope(['admin'], 'read', 'x'))
  t.true(matchScope(['write:*'], 'write', 'x'))
  t.false(matchScope([], 'write', 'x'))
  t.false(matchScope(['writex:*', 'bogus'], 'write', 'x'))
})
