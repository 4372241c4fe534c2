// Executable docs: every `<!-- doc-test:run -->` sh block in the READMEs and docs/ runs as written
// against a real `module-ingest serve` started here (free ports, a temp data dir), exits 0, and
// matches its `expect=/…/`. Bounded: one server, each block with its own timeout.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import test from 'ava'
import { markdownFiles, type Rewrite, rel, repoRoot, rewriteBlock, runnableBlocks } from '../src/index.ts'

test('runnableBlocks: marker, fence, expect', (t) => {
  const md =
    'x\n<!-- doc-test:run expect=/acked \\d/ -->\n```sh\necho a\necho b\n```\n```sh\nnot marked\n```\n'
  const [b, ...rest] = runnableBlocks(md)
  t.is(rest.length, 0)
  t.is(b?.code, 'echo a\necho b')
  t.is(b?.line, 3)
  t.true(b?.expect?.test('acked 2'))
  t.throws(() => runnableBlocks('<!-- doc-test:run -->\ntext\n'))
})

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await new Promise((r) => s.once('listening', r))
  const { port } = s.address() as { port: number }
  await new Promise((r) => s.close(r))
  return port
}

function runBash(
  code: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-e', '-c', code], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000)
    child.on('close', (c) => {
      clearTimeout(timer)
      resolve({ code: c ?? -1, out })
    })
  })
}

const blocks = markdownFiles().flatMap((file) =>
  runnableBlocks(readFileSync(file, 'utf8')).map((b) => ({ ...b, at: `${rel(file)}:${b.line}` })),
)

test('the README quick start is marked runnable', (t) => {
  t.true(
    blocks.some((b) => b.at.startsWith('README.md:')),
    'the README quick start is marked <!-- doc-test:run -->',
  )
})

// One real server for every block (started once: a start costs seconds on a loaded CI box).
const ctx: { cwd: string; env: Record<string, string>; rewrites: Rewrite[]; server?: ChildProcess } = {
  cwd: '',
  env: {},
  rewrites: [],
}

test.before(async () => {
  ctx.cwd = mkdtempSync(join(tmpdir(), 'mi-doctest-'))
  const dataDir = join(ctx.cwd, 'data')
  const [port, metricsPort] = [await freePort(), await freePort()]
  const cli = join(repoRoot, 'apps/server/src/cli.ts')
  const server = spawn(
    process.execPath,
    [
      cli,
      'serve',
      '--listen',
      `127.0.0.1:${port}`,
      '--data-dir',
      dataDir,
      '--set',
      `telemetry.metrics.listen=127.0.0.1:${metricsPort}`,
    ],
    { cwd: ctx.cwd, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  ctx.server = server
  let stderr = ''
  server.stderr!.on('data', (d) => (stderr += d))
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: server.stdout! }).on('line', (line) => {
      if (line.includes('"ServerListening"')) resolve()
    })
    server.once('exit', (c) => reject(new Error(`server exited (${c}) before listening:\n${stderr}`)))
  })
  const node = `"${process.execPath}"`
  ctx.rewrites = [
    {
      from: 'npx pnpm@10.34.9 module-ingest-queue-worker',
      to: `${node} ${join(repoRoot, 'apps/queue-worker/src/cli.ts')}`,
    },
    {
      from: 'npx pnpm@10.34.9 module-ingest-recover-dump',
      to: `${node} ${join(repoRoot, 'apps/recover-dump/src/cli.ts')}`,
    },
    { from: 'npx pnpm@10.34.9 module-ingest', to: `${node} ${cli}` },
    { from: /(^|[|;&]\s*)module-ingest(?=\s)/gm, to: `$1${node} ${cli}` },
    { from: '127.0.0.1:7411', to: `127.0.0.1:${port}` },
    { from: '127.0.0.1:7412', to: `127.0.0.1:${metricsPort}` },
  ]
  // The documented defaults (./data, listen 127.0.0.1:7411) point at this server through MI_*.
  ctx.env = { MI_DATA_DIR: dataDir, MI_LISTEN: `127.0.0.1:${port}` }
})

test.after.always(() => {
  ctx.server?.kill('SIGKILL')
  if (ctx.cwd) rmSync(ctx.cwd, { recursive: true, force: true })
})

for (const b of blocks) {
  test.serial(`${b.at} runs as written`, async (t) => {
    const r = await runBash(rewriteBlock(b.code, ctx.rewrites), ctx.cwd, ctx.env)
    t.is(r.code, 0, `${b.at} failed:\n${r.out}`)
    if (b.expect) t.regex(r.out, b.expect, `${b.at}: output does not match ${b.expect}`)
  })
}
