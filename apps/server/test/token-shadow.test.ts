// `token create` warns when the new credential overlaps another: which one governs the modules both match.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { runInProcess as runCli } from './_run.ts'

test.serial('token create warns about shadowing, both ways', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mi-token-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const wide = await runCli(['token', 'create', '-d', dir, '-m', '*', '--id', 'wide'])
  t.is(wide.code, 0, wide.stderr)
  t.is(wide.stderr, '')
  const fleet = await runCli(['token', 'create', '-d', dir, '-m', 'sensor-*', '--id', 'fleet'])
  t.is(fleet.code, 0, fleet.stderr)
  t.regex(
    fleet.stderr,
    /warning: modules matching both sensor-\* and \* \(wide\) now authenticate with fleet only/,
  )
  const broad = await runCli(['token', 'create', '-d', dir, '-m', 's*', '--id', 'broad'])
  t.regex(broad.stderr, /warning: broad is shadowed by fleet \(sensor-\*\)/)
})
