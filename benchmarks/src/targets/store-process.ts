/**
 * The child process behind stores.ts (never imported). Prints `READY <port>` once listening.
 *   node store-process.ts fauxqs <port> <storageDir> <bucket>…
 *   node store-process.ts v2 http|grpc
 */
import { pathToFileURL } from 'node:url'

const [kind, ...args] = process.argv.slice(2)
if (kind === 'fauxqs') {
  const { startFauxqs } = await import('fauxqs')
  const [port, dir, ...buckets] = args
  const server = await startFauxqs({ port: Number(port), logger: false, s3StorageDir: dir! })
  for (const b of buckets) server.createBucket(b)
  process.stdout.write(`READY ${server.port}\n`)
} else if (kind === 'v2') {
  // subscriber-ai's test server, by path: the harness does not depend on a built-in subscriber.
  const helper = new URL('../../../packages/subscriber-ai/test/helpers/v2-server.ts', import.meta.url)
  const { startV2Server } = (await import(pathToFileURL(helper.pathname).href)) as {
    startV2Server(o: { protocol: string }): Promise<{ port: number }>
  }
  const server = await startV2Server({ protocol: args[0]! })
  process.stdout.write(`READY ${server.port}\n`)
} else {
  process.stderr.write(`store-process: unknown kind ${kind}\n`)
  process.exit(2)
}
