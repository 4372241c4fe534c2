import { constants } from 'node:fs'
import { access, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { reniceThreads, type Spawned, spawnUntil } from '../procs.ts'

/**
 * What the subscriber scenarios talk to, each in a process of its own so its CPU is not the
 * harness's and a row can stop and start it:
 *
 * - an S3-compatible store: fauxqs (npm), objects stored as files under `dir`, the way the
 *   subscriber-s3 tests run it; `port` 0 picks one, a fixed port lets an outage end on the same one.
 *   `storeDir` puts `dir` in memory (tmpfs) where the host has one: see there.
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

/**
 * Where a store keeps its objects: /dev/shm (tmpfs) when it is writable, else `fallback` (the run's
 * scratch dir). A real object store is not on the edge host's disk, and fauxqs's files on the
 * log's disk compete with the log's fdatasyncs: with MI_BENCH_S3_NOISY=1 bodies it wrote 679 MB
 * during a 1 GiB catch-up, 13× the log's own writes over that time (22 MB with the default bodies).
 */
export async function storeDir(fallback: string, name: string): Promise<string> {
  try {
    await access('/dev/shm', constants.W_OK)
    return join('/dev/shm', `mi-bench-${process.pid}-${name}`)
  } catch {
    return join(fallback, name)
  }
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
  // MI_BENCH_STORE_NICE=10: the store (a stand-in for a remote service) below ingest's priority.
  const nice = process.env.MI_BENCH_STORE_NICE
  if (nice) reniceThreads(proc.pid, `*=${nice}`)
  return withPort(proc, port)
}

function withPort(proc: Spawned, port: number): StoreProcess {
  return { port, pid: proc.pid, kill: () => proc.kill() }
}
