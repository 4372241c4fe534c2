import { readFileSync } from 'node:fs'
import test from 'ava'
import { describeConfig, renderConfigMarkdown } from '../src/index.ts'

test('docs/configuration.md is generated from the schema and current', (t) => {
  const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8')
  t.is(doc, renderConfigMarkdown(), 'run `node tools/gen-config-doc.ts` to regenerate docs/configuration.md')
})

test('every setting is described, with an env var outside lists', (t) => {
  const entries = describeConfig()
  t.true(entries.length > 40)
  for (const e of entries) {
    t.true(e.description.length > 0, `${e.path} has a description`)
    if (!e.path.includes('[]') && !e.section) t.regex(e.env, /^MI_[A-Z0-9_]+$/)
  }
  t.like(
    entries.find((e) => e.path === 'limits.maxConnections'),
    { env: 'MI_LIMITS__MAX_CONNECTIONS', default: '`20000`', type: 'integer ≥ 1' },
  )
})
