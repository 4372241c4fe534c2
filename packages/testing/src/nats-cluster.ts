/**
 * A real JetStream cluster of our own: N `nats-server` processes on loopback with cluster routes
 * between them, JetStream on with file storage, each node killable and restartable on its own
 * ports and store dir. Never the machine's shared server on 4222.
 *
 *   node n1 ◀──route──▶ node n2 ◀──route──▶ node n3      (full mesh: every node lists every route)
 *   client :p1           client :p2           client :p3  (seeds a client may use)
 *
 * Ready means JetStream's meta group has a leader, so stream creation works right away.
 */
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { MI_ERR_TESTING_PROCESS_START } from './errors.ts'
import { type NatsServer, startNatsServer } from './nats-server.ts'
import { freePort } from './ports.ts'

export interface NatsClusterNode extends NatsServer {
  /** The node's `server_name` (what JetStream reports as a stream's leader). */
  readonly name: string
}

export interface NatsCluster {
  readonly nodes: readonly NatsClusterNode[]
  /** Every node's client URL, the seeds a client should be given. */
  readonly urls: string[]
  /** The node that leads `stream` now (waits, bounded, while an election is under way). */
  leaderOf(stream: string, timeoutMs?: number): Promise<NatsClusterNode>
  /** Resolves once JetStream answers API calls (a meta leader exists). */
  ready(timeoutMs?: number): Promise<void>
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export interface NatsClusterOptions {
  /** Number of nodes. Default 3. */
  size?: number
  /** Cluster name. Default `mi-test`. */
  name?: string
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const { size = 3, name: clusterName = 'mi-test' } = options
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()))
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',')
  // Started together: each node retries its routes until the others listen.
  const nodes = await Promise.all(
    routePorts.map(async (routePort, i) => {
      const name = `n${i + 1}`
      const server = await startNatsServer({
        jetstream: true,
        args: [
          '--name',
          name,
          '--cluster_name',
          clusterName,
          '--cluster',
          `nats://127.0.0.1:${routePort}`,
          '--routes',
          routes,
          '--no_advertise=true',
        ],
      })
      return Object.assign(server, { name }) as NatsClusterNode
    }),
  )
  const urls = nodes.map((n) => n.url)

  const withManager = async <T>(
    fn: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>,
  ): Promise<T> => {
    const nc = await connect({ servers: nodes.filter((n) => n.running).map((n) => n.url), timeout: 2000 })
    try {
      return await fn(await jetstreamManager(nc, { timeout: 2000 }))
    } finally {
      await nc.close()
    }
  }

  const retry = async <T>(what: string, timeoutMs: number, fn: () => Promise<T | null>): Promise<T> => {
    const deadline = Date.now() + timeoutMs
    let last = ''
    for (;;) {
      try {
        const value = await fn()
        if (value !== null) return value
      } catch (err) {
        last = (err as Error).message
      }
      if (Date.now() > deadline) {
        throw new MI_ERR_TESTING_PROCESS_START('nats cluster', `${what} not within ${timeoutMs} ms: ${last}`)
      }
      await sleep(200)
    }
  }

  const cluster: NatsCluster = {
    nodes,
    urls,
    async ready(timeoutMs = 30_000) {
      await retry('JetStream meta leader', timeoutMs, () =>
        withManager(async (jsm) => {
          await jsm.getAccountInfo()
          return true
        }),
      )
    },
    leaderOf: (stream, timeoutMs = 30_000) =>
      retry(`a leader for stream ${stream}`, timeoutMs, () =>
        withManager(async (jsm) => {
          const leader = (await jsm.streams.info(stream)).cluster?.leader
          return nodes.find((n) => n.name === leader && n.running) ?? null
        }),
      ),
    async close() {
      await Promise.all(nodes.map((n) => n.close()))
    },
    [Symbol.asyncDispose]() {
      return cluster.close()
    },
  }
  try {
    await cluster.ready()
  } catch (err) {
    await cluster.close()
    throw err
  }
  return cluster
}
