// A path that is not there is an error with the path and a hint, never silence (archive read) or a
// raw ENOENT stack line (tail).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { runInProcess as runCli } from './_run.ts'

test.serial('archive read --dir <missing>: exit 1, names the directory', async (t) => {
  const r = await runCli(['archive', 'read', '--dir', '/nonexistent/mi-archive'])
  t.is(r.code, 1)
  t.is(r.stdout, '')
  t.regex(
    r.stderr,
    /^error: MI_ERR_CLI_NOT_FOUND: archive directory \/nonexistent\/mi-archive does not exist/,
  )
})

test.serial('tail -d <missing>: exit 1, names the log directory, no raw ENOENT', async (t) => {
  const r = await runCli(['tail', '-d', '/nonexistent/mi-data'])
  t.is(r.code, 1)
  t.regex(r.stderr, /^error: MI_ERR_CLI_NOT_FOUND: log directory \/nonexistent\/mi-data\/log does not exist/)
  t.notRegex(r.stderr, /ENOENT|scandir/)
})

test.serial('tail in a data dir no server has used: says so', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mi-empty-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const r = await runCli(['tail', '-d', dir])
  t.is(r.code, 1)
  t.regex(r.stderr, /no server has written a log/)
})

test.serial('archive read --help: --dir is optional, as the text below it says', async (t) => {
  const r = await runCli(['archive', 'read', '--help'])
  t.is(r.code, 0)
  t.regex(r.stdout, /^Usage: module-ingest archive read \[--dir <archive dir>\]/)
  t.notRegex(r.stdout, /required/)
})
