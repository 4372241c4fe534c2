// Shared AVA settings: every package's ava.config.mjs re-exports this.
// Node 24 strips TypeScript types natively, so no loader is involved.
import { fileURLToPath } from 'node:url'

const ci = process.env.CI === 'true'

export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  // Real sockets, fsync and worker threads on a 2-core box: don't oversubscribe.
  concurrency: 2,
  timeout: ci ? '120s' : '60s',
  workerThreads: false,
  environmentVariables: { MI_TEST: '1' },
  // A file whose tests leak a handle would otherwise keep CI waiting forever: see the guard.
  require: [fileURLToPath(new URL('./ava.exit-guard.mjs', import.meta.url))],
}
