import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { MI_ERR_TESTING_BINARY_MISSING, MI_ERR_TESTING_PROCESS_START } from './errors.ts'
import { freePort } from './ports.ts'
import { decide, type ServiceDecision } from './service.ts'

/**
 * A nats-server child process of our own, on a free loopback port with a temporary store dir, so
 * tests can stop, kill and restart it without disturbing the shared server other suites use.
 * Modelled on nats.js `nst/` (real servers in tests, internal/unsupported).
 */
export interface NatsServer {
  readonly port: number
  /** `nats://127.0.0.1:<port>` */
  readonly url: string
  /** JetStream store dir; survives stop/kill/restart, removed by close(). */
  readonly storeDir: string
  readonly running: boolean
  /** Graceful stop (SIGTERM), resolves once the process has exited. */
  stop(): Promise<void>
  /** Crash it (SIGKILL), resolves once the process has exited. */
  kill(): Promise<void>
  /** Start again on the same port and store dir (stopping first if running); resolves when ready. */
  restart(): Promise<void>
  /** Stop and remove the store dir. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
  /** The last lines the server logged, for assertion messages. */
  logs(): string
}

export interface NatsServerOptions {
  /** Enable JetStream (`-js`). Default true. */
  jetstream?: boolean
  /** Extra command-line arguments. */
  args?: string[]
  /** How long to wait for "Server is ready". Default 15000. */
  readyTimeoutMs?: number
}

const kLogLines = 200
const live = new Set<ChildProcess>()
let exitHookInstalled = false

function candidates(): string[] {
  const fromEnv = process.env.MI_NATS_SERVER_BIN
  const onPath = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)
  return [
    ...(fromEnv ? [fromEnv] : []),
    '/usr/sbin/nats-server',
    ...onPath.map((dir) => path.join(dir, 'nats-server')),
  ]
}

/** The nats-server binary to use, or null. `MI_NATS_SERVER_BIN` overrides the search. */
export function findNatsServer(): string | null {
  for (const file of candidates()) {
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {}
  }
  return null
}

/** Skip (locally) or fail (CI) tests that need to start their own nats-server. */
export function requireNatsServerBinary(): ServiceDecision {
  return decide(
    'a nats-server binary',
    findNatsServer() === null
      ? 'nats-server not found in /usr/sbin or on PATH (apt-get install nats-server)'
      : '',
  )
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const { jetstream = true, args = [], readyTimeoutMs = 15_000 } = options
  const bin = findNatsServer()
  if (bin === null) throw new MI_ERR_TESTING_BINARY_MISSING('nats-server', candidates().join(', '))
  if (!exitHookInstalled) {
    exitHookInstalled = true
    // A test that throws before close() must not leave servers behind holding ports.
    process.once('exit', () => {
      for (const child of live) child.kill('SIGKILL')
    })
  }
  const port = await freePort()
  const storeDir = await mkdtemp(path.join(tmpdir(), 'mi-nats-'))
  const argv = [
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
    ...(jetstream ? ['-js', '-sd', storeDir] : []),
    ...args,
  ]
  const lines: string[] = []
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()

  const launch = async () => {
    const proc = spawn(bin, argv, { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    live.add(proc)
    exited = new Promise((resolve) => {
      proc.once('exit', () => {
        live.delete(proc)
        if (child === proc) child = null
        resolve()
      })
    })
    // nats-server logs to stderr; "Server is ready" comes after the listener and JetStream are up.
    await new Promise<void>((resolve, reject) => {
      let buffered = ''
      const settle = () => {
        clearTimeout(timer)
        proc.off('error', onError)
        proc.off('exit', onExit)
      }
      const fail = (why: string) => {
        settle()
        proc.kill('SIGKILL')
        reject(new MI_ERR_TESTING_PROCESS_START('nats-server', `${why}\n${lines.join('\n')}`))
      }
      const onError = (err: Error) => fail(err.message)
      const onExit = (code: number | null, sig: string | null) => fail(`exited early (${code ?? sig})`)
      const timer = setTimeout(() => fail(`no "Server is ready" within ${readyTimeoutMs} ms`), readyTimeoutMs)
      proc.on('error', onError)
      proc.on('exit', onExit)
      proc.stderr!.setEncoding('utf8')
      proc.stderr!.on('data', (chunk: string) => {
        buffered += chunk
        const parts = buffered.split('\n')
        buffered = parts.pop() ?? ''
        for (const line of parts) {
          lines.push(line)
          if (lines.length > kLogLines) lines.shift()
          if (line.includes('Server is ready')) {
            settle()
            resolve()
          }
        }
      })
    })
  }

  const signal = async (sig: NodeJS.Signals) => {
    const proc = child
    if (proc === null) return
    const gone = exited
    proc.kill(sig)
    // A JetStream shutdown flushes the store; give it time, then insist.
    const force = setTimeout(() => proc.kill('SIGKILL'), 10_000)
    await gone
    clearTimeout(force)
  }

  await launch()

  const server: NatsServer = {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir,
    get running() {
      return child !== null
    },
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async restart() {
      await signal('SIGTERM')
      await launch()
    },
    async close() {
      await signal('SIGTERM')
      await rm(storeDir, { recursive: true, force: true })
    },
    [Symbol.asyncDispose]() {
      return server.close()
    },
    logs: () => lines.join('\n'),
  }
  return server
}
