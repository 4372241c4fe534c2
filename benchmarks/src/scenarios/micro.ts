/**
 * The per-package micro-benchmarks (packages/<pkg>/bench/*.bench.ts: ring, protocol decode, auth
 * verify-hello, subscriber-disk archive, …), listed by name so `run.ts micro:ring` runs one. Each
 * prints its own output; the row only records how it exited and how long it took.
 *
 * Not part of the test suite, nor of the default run (select them by name or `micro`).
 * Command: node benchmarks/src/run.ts --list              (names)
 *          node benchmarks/src/run.ts micro:ring
 * Prerequisites: whatever the bench's own header says (e.g. nats-server for subscriber-nats).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Row, Scenario } from '../scenario.ts'

const kPackages = fileURLToPath(new URL('../../../packages/', import.meta.url))

export function microScenarios(): Scenario[] {
  const found: Array<{ pkg: string; stem: string; file: string }> = []
  for (const pkg of existsSync(kPackages) ? readdirSync(kPackages).sort() : []) {
    const dir = join(kPackages, pkg, 'bench')
    if (!existsSync(dir)) continue
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.bench.ts') && !f.startsWith('_'))
        found.push({ pkg, stem: basename(f, '.bench.ts'), file: join(dir, f) })
    }
  }
  return found.map(({ pkg, stem, file }) => {
    const alone = found.filter((x) => x.pkg === pkg).length === 1
    const name = alone ? `micro:${pkg}` : `micro:${pkg}-${stem}`
    return {
      name,
      group: 'micro',
      description: `packages/${pkg}/bench/${stem}.bench.ts (prints its own output)`,
      quick: false,
      full: false,
      async run(ctx): Promise<Row[]> {
        ctx.log(`  node ${file.slice(kPackages.length - 'packages/'.length)}`)
        const t0 = performance.now()
        const child = spawn(process.execPath, [file], { cwd: dirname(dirname(file)), stdio: 'inherit' })
        const [code, signal] = (await once(child, 'exit')) as [number | null, string | null]
        return [
          {
            scenario: name,
            target: 'micro',
            params: {},
            msgs_per_s: null,
            mb_per_s: null,
            ack: null,
            flush: null,
            rss_peak_mib: null,
            cpu_s: null,
            errors: code === 0 ? 0 : 1,
            extra: { exit: signal ?? code ?? -1, elapsed_ms: Math.round(performance.now() - t0) },
          },
        ]
      },
    }
  })
}
