import { execFileSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { jetstreamManager, StorageType } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { freePort, type Spawned, spawnUntil } from '../procs.ts'

/**
 * The peers we compare with, each a server process of its own on a free port with its own store:
 *
 * - NATS JetStream (`nats-server -js -sd DIR`), one file-storage stream `BENCH` on `bench.>`.
 *   Caveat that decides the comparison: JetStream syncs its files to disk on a timer (2 minutes by
 *   default) and a PubAck does not wait for it; 2.9.x predates `sync_interval: always`. Its acks are
 *   comparable with our `interval` flush policy, not with `always`.
 * - Redis Streams (`redis-server --appendonly yes --appendfsync always`): a reply to XADD comes after
 *   the AOF fsync, so it is comparable with our `always`.
 */

export interface PeerServer {
  readonly name: string
  readonly port: number
  readonly pid: number
  readonly version: string
  kill(): Promise<void>
}

function findBinary(name: string, fixed: string[], envVar: string): string | null {
  const fromEnv = process.env[envVar]
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  for (const file of [...(fromEnv ? [fromEnv] : []), ...fixed, ...dirs.map((d) => join(d, name))]) {
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {}
  }
  return null
}

function versionOf(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000 }).trim().split('\n')[0]!
  } catch {
    return 'unknown'
  }
}

export async function startNats(storeDir: string): Promise<PeerServer> {
  const bin = findBinary('nats-server', ['/usr/sbin/nats-server'], 'MI_NATS_SERVER_BIN')
  if (!bin) throw new Error('nats-server not found in /usr/sbin or on PATH (apt-get install -y nats-server)')
  await mkdir(storeDir, { recursive: true })
  const port = await freePort()
  const { proc } = await spawnUntil(
    bin,
    ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir],
    (line) => (line.includes('Server is ready') ? true : undefined),
    { timeoutMs: 15_000 },
  )
  try {
    const nc = await connect({ servers: `127.0.0.1:${port}` })
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'], storage: StorageType.File })
    await nc.close()
  } catch (err) {
    await proc.kill()
    throw err
  }
  return peer('nats-js', port, proc, versionOf(bin))
}

export async function startRedis(dir: string): Promise<PeerServer> {
  const bin = findBinary('redis-server', ['/usr/bin/redis-server'], 'MI_REDIS_SERVER_BIN')
  if (!bin) throw new Error('redis-server not found on PATH (apt-get install -y redis-server)')
  await mkdir(dir, { recursive: true })
  const port = await freePort()
  const { proc } = await spawnUntil(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      dir,
      '--save',
      '',
      '--maxclients',
      '20000',
    ],
    (line) => (line.includes('Ready to accept connections') ? true : undefined),
    { timeoutMs: 15_000 },
  )
  return peer('redis', port, proc, versionOf(bin))
}

function peer(name: string, port: number, proc: Spawned, version: string): PeerServer {
  return { name, port, pid: proc.pid, version, kill: () => proc.kill() }
}
