import type { ExecutionContext, TestFn } from 'ava'
import { probeTcp } from './ports.ts'

/**
 * Whether tests that need an external service should run. Outside CI a missing service skips the
 * tests loudly; in CI (`CI=true`) it fails them, so a broken CI machine cannot pass by skipping.
 */
export interface ServiceDecision {
  readonly name: string
  /** `run` when the service is there; otherwise `skip` (local) or `fail` (CI). */
  readonly mode: 'run' | 'skip' | 'fail'
  /** Why the service is unusable; '' when mode is `run`. */
  readonly reason: string
  /**
   * Wrap ava's `test` so each test declared through it runs, is skipped with the reason in its
   * title, or fails with the reason, according to `mode`.
   */
  gate<Context = unknown>(test: TestFn<Context>): GatedTest<Context>
}

type Impl<Context> = (t: ExecutionContext<Context>) => void | PromiseLike<void>

export interface GatedTest<Context = unknown> {
  (title: string, impl: Impl<Context>): void
  serial(title: string, impl: Impl<Context>): void
}

export interface ServiceOptions {
  name: string
  host: string
  port: number
  /** How long one connection attempt may take. Default 1000. */
  timeoutMs?: number
}

const isCi = () => process.env.CI === 'true'

/** Build a decision from a reason ('' = usable). Also used for binaries and other prerequisites. */
export function decide(name: string, reason: string): ServiceDecision {
  const mode = reason === '' ? 'run' : isCi() ? 'fail' : 'skip'
  if (mode === 'skip') {
    // Loud on purpose: a silent skip hides a machine that never runs these tests.
    console.warn(`\n⚠️  SKIPPING tests that need ${name}: ${reason} (with CI=true this fails instead)\n`)
  }
  return {
    name,
    mode,
    reason,
    gate<Context>(test: TestFn<Context>): GatedTest<Context> {
      const declare =
        (serial: boolean) =>
        (title: string, impl: Impl<Context>): void => {
          const run = serial ? test.serial : test
          if (mode === 'run') run(title, impl)
          else if (mode === 'skip') test.skip(`${title} [needs ${name}: ${reason}]`, impl)
          else run(title, (t) => t.fail(`${name} is required in CI: ${reason}`))
        }
      return Object.assign(declare(false), { serial: declare(true) })
    },
  }
}

/** Probe a TCP service once; see {@link ServiceDecision}. */
export async function requireService(options: ServiceOptions): Promise<ServiceDecision> {
  const { name, host, port, timeoutMs = 1000 } = options
  const problem = await probeTcp(host, port, timeoutMs)
  return decide(name, problem === null ? '' : `${host}:${port} unreachable (${problem})`)
}
