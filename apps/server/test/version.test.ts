// `--version` answers on every command of every app (exit 0, one line with the version).
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { buildProgram } from '../src/program.ts'

const app = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url))

function run(cli: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 30_000 }, (err, stdout) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout }),
    )
  })
}

/** Every command path of the server CLI, from its own definition (new commands are covered too). */
function paths(cmd = buildProgram(), prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])])
}

test('module-ingest <every command> --version', async (t) => {
  const all = [[], ...paths()]
  t.true(all.length > 10)
  // In-process: spawning ~20 CLIs costs minutes on a loaded box; one spawn proves the wiring.
  for (const path of all) {
    let out = ''
    const program = buildProgram()
    program.configureOutput({ writeOut: (s) => (out += s) })
    const walk = (c: typeof program) => {
      for (const s of c.commands) {
        s.configureOutput({ writeOut: (x) => (out += x) })
        walk(s)
      }
    }
    walk(program)
    const err = await program.parseAsync(['node', 'module-ingest', ...path, '--version']).catch((e) => e)
    t.is((err as { exitCode?: number }).exitCode, 0, path.join(' '))
    t.regex(out, /^module-ingest \d+\.\d+\.\d+ \(node v\d+/, path.join(' '))
  }
  const spawned = await run(app('server/src/cli.ts'), ['tail', '--version'])
  t.is(spawned.code, 0)
  t.regex(spawned.stdout, /^module-ingest \d+\.\d+\.\d+/)
})

test('the other apps: --version', async (t) => {
  const qw = await run(app('queue-worker/src/cli.ts'), ['--version'])
  t.is(qw.code, 0)
  t.regex(qw.stdout, /^module-ingest-queue-worker \d+\.\d+\.\d+/)
  const rd = await run(app('recover-dump/src/cli.ts'), ['verify', '--version'])
  t.is(rd.code, 0)
  t.regex(rd.stdout, /^module-ingest-recover-dump \d+\.\d+\.\d+/)
})
