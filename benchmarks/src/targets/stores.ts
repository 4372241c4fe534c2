import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { type Spawned, spawnUntil } from '../procs.ts'

/**
 * What the subscriber scenarios talk to, each in a process of its own so its CPU is not the
 * harness's and a row can stop and start it:
 *
 * - an S3-compatible store: fauxqs (npm), objects stored as files under `dir`, the way the
 *   subscriber-s3 tests run it; `port` 0 picks one, a fixed port lets an outage end on the same one.
 * - an Open Inference Protocol v2 server (HTTP/JSON or gRPC): subscriber-ai's own test server
 *   (packages/subscriber-ai/test/helpers/v2-server.ts), backed by onnxruntime and the shipped model.
 */

export interface StoreProcess {
  readonly port: number
  readonly pid: number
  kill(): Promise<void>
}

const kScript = fileURLToPath(new URL('./store-process.ts', import.meta.url))

export async function startFauxqs(dir: string, port: number, buckets: string[]): Promise<StoreProcess> {
  await mkdir(dir, { recursive: true })
  return start(['fauxqs', String(port), dir, ...buckets])
}

export async function startV2Server(protocol: 'http' | 'grpc'): Promise<StoreProcess> {
  return start(['v2', protocol])
}

async function start(args: string[]): Promise<StoreProcess> {
  const { proc, value: port } = await spawnUntil(
    process.execPath,
    [kScript, ...args],
    (line) => {
      const m = /^READY (\d+)$/.exec(line)
      return m ? Number(m[1]) : undefined
    },
    { timeoutMs: 60_000 },
  )
  return withPort(proc, port)
}

function withPort(proc: Spawned, port: number): StoreProcess {
  return { port, pid: proc.pid, kill: () => proc.kill() }
}
