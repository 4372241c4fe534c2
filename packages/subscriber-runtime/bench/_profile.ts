import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'

/**
 * MI_BENCH_PROFILE=<file>: a CPU profile of the calling thread from now until the returned stop()
 * resolves, written to <file> (open it in Chrome DevTools or speedscope). Without the variable,
 * starts nothing and stop() does nothing. One setup for every bench here.
 */
export async function profileFromEnv(): Promise<() => Promise<void>> {
  const file = process.env.MI_BENCH_PROFILE
  if (!file) return async () => {}
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}
