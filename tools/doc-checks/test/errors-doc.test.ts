// docs/errors.md is the one table of every error code (STYLE §4, fastify's
// test/internals/errors.test.js): each code in source has a row under its package's heading, each
// row names a code that exists, each exported error class's key equals its `.code`, and the MIP/1
// table mirrors @module-ingest/protocol's ErrorCode and NACK_CODES.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ErrorCode, NACK_CODES } from '@module-ingest/protocol'
import test from 'ava'
import { docErrorRows, docWireRows, MIP_SECTION, repoRoot, scanErrorCodes, workspaces } from '../src/index.ts'

const docPath = join(repoRoot, 'docs', 'errors.md')
const doc = readFileSync(docPath, 'utf8')
const rows = docErrorRows(doc)
const spaces = workspaces()
const scan = scanErrorCodes(spaces)

const where = (sites: { at: string }[] | undefined) => (sites ?? []).map((s) => s.at).join(', ')

test('the source scan finds the error tables', (t) => {
  // Guards the scan itself: a regex that silently matched nothing would pass every other test.
  t.true(scan.defined.size >= 50, `only ${scan.defined.size} createError codes found`)
  for (const code of ['MI_ERR_LOG_CORRUPT', 'MI_ERR_CLIENT_NACK', 'MI_ERR_PLUGIN_INVALID']) {
    t.true(scan.defined.has(code), `${code} not found by the scan`)
  }
})

test('every createError() call names its code with a literal', (t) => {
  t.deepEqual(
    scan.unreadable.map((s) => s.at),
    [],
    "pass the code as a string literal, createError('MI_ERR_…', …), so it can be checked",
  )
})

test('each code is defined once', (t) => {
  const twice = [...scan.defined]
    .filter(([, sites]) => sites.length > 1)
    .map(([c, s]) => `${c} (${where(s)})`)
  t.deepEqual(twice, [])
})

test('every code in source has a row in docs/errors.md', (t) => {
  const documented = new Set(rows.map((r) => r.code))
  const missing = [...new Set([...scan.defined.keys(), ...scan.literals.keys()])]
    .filter((code) => !documented.has(code))
    .sort()
    .map((code) => `${code} (${where(scan.defined.get(code) ?? scan.literals.get(code))})`)
  t.deepEqual(missing, [], 'add a | Code | Meaning | How to fix | row to docs/errors.md')
})

test('every row in docs/errors.md names a code that exists in source', (t) => {
  const stale = rows
    .filter((r) => !scan.defined.has(r.code) && !scan.literals.has(r.code))
    .filter((r) => r.section !== 'Retired codes')
    .map((r) => `${r.code} (docs/errors.md:${r.n})`)
  t.deepEqual(stale, [], 'remove the row, or move it under "Retired codes" (never reuse a retired code)')
})

test('each code is documented once, under the heading of the package that defines it', (t) => {
  const seen = new Map<string, number>()
  const problems: string[] = []
  for (const r of rows) {
    if (seen.has(r.code)) problems.push(`${r.code}: rows at lines ${seen.get(r.code)} and ${r.n}`)
    seen.set(r.code, r.n)
    const defined = scan.defined.get(r.code)
    if (defined && !defined.some((s) => s.pkg === r.section)) {
      problems.push(`${r.code} (line ${r.n}) is under "${r.section}", defined in ${defined[0]!.pkg}`)
    }
  }
  t.deepEqual(problems, [])
})

test('rows are complete and anchored: <a id="mi_err_…"></a> | meaning | how to fix', (t) => {
  const problems: string[] = []
  for (const r of rows) {
    if (r.anchor !== r.code.toLowerCase())
      problems.push(`${r.code} (line ${r.n}): anchor id should be ${r.code.toLowerCase()}`)
    if (r.meaning.length < 10) problems.push(`${r.code} (line ${r.n}): no Meaning`)
    if (r.fix.length < 5) problems.push(`${r.code} (line ${r.n}): no How to fix`)
  }
  t.deepEqual(problems, [])
})

test("each package's exported MI_ERR_* classes carry their own key as .code", async (t) => {
  const problems: string[] = []
  let checked = 0
  for (const ws of spaces) {
    const errorsFile = join(repoRoot, ws.dir, 'src', 'errors.ts')
    if (!existsSync(errorsFile)) continue
    // The table itself, and the public surface that re-exports it.
    for (const file of [errorsFile, ws.entry]) {
      if (file === undefined || !existsSync(file)) continue
      const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>
      for (const [key, value] of Object.entries(mod)) {
        if (!key.startsWith('MI_ERR_')) continue
        checked++
        const code = (value as { code?: unknown } | null)?.code
        if (code !== key) problems.push(`${ws.name}: export ${key} has .code ${String(code)}`)
      }
    }
    // Every code the table creates is exported under its own name.
    const table = (await import(pathToFileURL(errorsFile).href)) as Record<string, unknown>
    for (const [code, sites] of scan.defined) {
      if (sites.some((s) => s.at.startsWith(`${ws.dir}/src/errors.ts:`)) && !(code in table)) {
        problems.push(`${ws.name}: ${code} is created in src/errors.ts but not exported as ${code}`)
      }
    }
  }
  t.true(checked >= scan.defined.size, `checked ${checked} exports for ${scan.defined.size} codes`)
  t.deepEqual(problems, [])
})

test('the MIP/1 table mirrors ErrorCode and NACK_CODES exactly', (t) => {
  const wire = docWireRows(doc)
  t.true(wire.length > 0, `no rows under "## ${MIP_SECTION}"`)
  const expected = Object.entries(ErrorCode)
    .map(([name, code]) => ({ code, name, kind: NACK_CODES.has(code) ? 'NACK' : 'fatal' }))
    .sort((a, b) => a.code - b.code)
  t.deepEqual(
    wire.map(({ code, name, kind }) => ({ code, name, kind })),
    expected,
  )
  const empty = wire.filter((r) => r.cells.length !== 5 || r.cells.slice(3).some((c) => c.length < 10))
  t.deepEqual(
    empty.map((r) => `line ${r.n}`),
    [],
    'each row needs: what the server does, what a client should do',
  )
})
