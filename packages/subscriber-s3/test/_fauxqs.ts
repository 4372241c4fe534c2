// A real S3-compatible server on loopback for the tests: fauxqs, in this process, on a random
// port, storing objects as files so a stop()/restart() keeps them (an outage, not a wipe).
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { type FauxqsServer, startFauxqs } from 'fauxqs'
import {
  type Compression,
  type DecodedRecord,
  decodeRecords,
  decompress,
  type ObjectFormat,
} from '../src/index.ts'

export const kCredentials = { accessKeyId: 'test', secretAccessKey: 'test' }

export interface TestS3 {
  readonly endpoint: string
  readonly port: number
  readonly running: boolean
  /** Options for the subscriber: endpoint, path style, keys, bucket. */
  options(bucket: string): Record<string, unknown>
  createBucket(name: string): void
  client(): S3Client
  stop(): Promise<void>
  restart(): Promise<void>
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export async function startTestS3(): Promise<TestS3> {
  const dir = await mkdtemp(join(tmpdir(), 'mi-s3-'))
  let server: FauxqsServer | null = await startFauxqs({ port: 0, logger: false, s3StorageDir: dir })
  const port = server.port
  const endpoint = `http://127.0.0.1:${port}`
  const buckets = new Set<string>()
  let s3: S3Client | undefined
  const self: TestS3 = {
    endpoint,
    port,
    get running() {
      return server !== null
    },
    options: (bucket) => ({
      bucket,
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { ...kCredentials },
    }),
    createBucket(name) {
      buckets.add(name)
      server!.createBucket(name)
    },
    client() {
      s3 ??= new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { ...kCredentials },
      })
      return s3
    },
    async stop() {
      await server?.stop()
      server = null
    },
    async restart() {
      server = await startFauxqs({ port, logger: false, s3StorageDir: dir })
      // Buckets are re-created idempotently; the objects come back from the storage dir.
      for (const b of buckets) server.createBucket(b)
    },
    async close() {
      s3?.destroy()
      await self.stop()
      await rm(dir, { recursive: true, force: true })
    },
    [Symbol.asyncDispose]: () => self.close(),
  }
  return self
}

export interface StoredObject {
  key: string
  records: DecodedRecord[]
}

/** Every object under `prefix`, downloaded and decoded. */
export async function readObjects(
  s3: S3Client,
  bucket: string,
  prefix = '',
  format: ObjectFormat = 'ndjson',
  compression: Compression = 'zstd',
): Promise<StoredObject[]> {
  const out: StoredObject[] = []
  let token: string | undefined
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    )
    for (const o of page.Contents ?? []) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }))
      const raw = await decompress(await got.Body!.transformToByteArray(), compression)
      out.push({ key: o.Key!, records: decodeRecords(raw, format) })
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token !== undefined)
  return out
}

/** All lsns stored, in key order, and the ones stored more than once. */
export function lsnsOf(objects: StoredObject[]): { lsns: number[]; duplicates: number[] } {
  const seen = new Set<number>()
  const duplicates: number[] = []
  for (const o of objects)
    for (const r of o.records) {
      if (seen.has(r.lsn)) duplicates.push(r.lsn)
      seen.add(r.lsn)
    }
  return { lsns: [...seen].sort((a, b) => a - b), duplicates }
}

export interface TestS3Process {
  readonly endpoint: string
  readonly storageDir: string
  options(bucket: string): Record<string, unknown>
  kill(): Promise<void>
  restart(): Promise<void>
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

const kFixture = fileURLToPath(new URL('./fixtures/fauxqs-process.ts', import.meta.url))

/** fauxqs in a child process (file storage survives a SIGKILL), for crash tests. */
export async function startTestS3Process(buckets: string[]): Promise<TestS3Process> {
  const dir = await mkdtemp(join(tmpdir(), 'mi-s3-proc-'))
  let port = 0
  let child: ChildProcess | null = null
  const spawnIt = async () => {
    const c = spawn(process.execPath, [kFixture, String(port), dir, ...buckets], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    child = c
    const ready = await new Promise<number>((resolve, reject) => {
      createInterface({ input: c.stdout! }).on('line', (line) => {
        const m = /^READY (\d+)$/.exec(line)
        if (m) resolve(Number(m[1]))
      })
      c.once('exit', (code) => reject(new Error(`fauxqs exited (${code}) before it was ready`)))
    })
    port = ready
  }
  await spawnIt()
  const endpoint = `http://127.0.0.1:${port}`
  const kill = async () => {
    const c = child
    child = null
    if (c === null || c.exitCode !== null) return
    const exited = new Promise((r) => c.once('exit', r))
    c.kill('SIGKILL')
    await exited
  }
  const self: TestS3Process = {
    endpoint,
    storageDir: dir,
    options: (bucket) => ({
      bucket,
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { ...kCredentials },
    }),
    kill,
    restart: spawnIt,
    async close() {
      await kill()
      await rm(dir, { recursive: true, force: true })
    },
    [Symbol.asyncDispose]: () => self.close(),
  }
  return self
}
