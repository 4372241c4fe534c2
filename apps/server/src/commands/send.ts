import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { ConnectionOptions } from 'node:tls'
import { connect } from '@module-ingest/client'
import { Command } from 'commander'
import {
  type ConfigFlags,
  configFromFlags,
  configOptions,
  connectHost,
  readDevToken,
  usageError,
} from '../common.ts'

interface SendOptions extends ConfigFlags {
  stream: string
  host?: string
  port?: string
  module: string
  token?: string
  hmacKey?: string
  json?: boolean
  batch: string
  quiet?: boolean
  tls?: boolean
  ca?: string
  cert?: string
  key?: string
  servername?: string
  connectTimeout: string
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw usageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/**
 * TLS settings from the flags. TLS is on with --tls, or by default when the config's listener is
 * TLS (the same config the server runs with); --no-tls forces plain TCP.
 */
export function tlsFromFlags(
  o: Pick<SendOptions, 'tls' | 'ca' | 'cert' | 'key' | 'servername'>,
  configHasTls: boolean,
): ConnectionOptions | undefined {
  const any = o.ca !== undefined || o.cert !== undefined || o.key !== undefined || o.servername !== undefined
  const on = o.tls ?? (configHasTls || any)
  if (!on) {
    if (any) throw usageError('--ca/--cert/--key/--servername need TLS: drop --no-tls')
    return undefined
  }
  if ((o.cert === undefined) !== (o.key === undefined)) throw usageError('--cert and --key go together')
  return {
    ...(o.ca !== undefined ? { ca: readPem(o.ca, '--ca') } : {}),
    ...(o.cert !== undefined ? { cert: readPem(o.cert, '--cert') } : {}),
    ...(o.key !== undefined ? { key: readPem(o.key, '--key') } : {}),
    ...(o.servername !== undefined ? { servername: o.servername } : {}),
  }
}

// Records in flight at once; the client's own window applies backpressure below this.
const kMaxPending = 8192

export function sendCommand(): Command {
  return configOptions(new Command('send'))
    .description('send stdin lines as records (one record per line) and wait for their ACKs')
    .requiredOption('-s, --stream <name>', 'stream to write to')
    .option('--host <host>', 'server host (default: from config listen)')
    .option('--port <port>', 'server port (default: from config listen)')
    .option('-m, --module <name>', 'module name to connect as', 'module-ingest-cli')
    .option('--token <token>', 'bearer token (default: <dataDir>/dev-token, written on first serve)')
    .option('--hmac-key <key>', 'HMAC key (hex or base64) instead of a token')
    .option('--json', 'each line must be valid JSON; invalid lines are reported and skipped')
    .option('-b, --batch <n>', 'records per BATCH frame (1 sends DATA frames)', '1')
    .option('-q, --quiet', 'no progress line, only the summary')
    .option('--tls', 'connect with TLS (default: on when the config listener has tls)')
    .option('--no-tls', 'plain TCP even when the config listener has tls')
    .option('--ca <file>', 'PEM CA bundle to verify the server certificate (default: system CAs)')
    .option('--cert <file>', 'PEM client certificate (mutual TLS)')
    .option('--key <file>', 'PEM client private key (mutual TLS)')
    .option('--servername <name>', 'TLS server name (SNI and certificate check); default: --host')
    .option(
      '--connect-timeout <ms>',
      'give up when no session is up after this long (closed port, TLS mismatch)',
      '10000',
    )
    .action(async (o: SendOptions) => {
      const config = configFromFlags(o)
      const batch = Number(o.batch)
      if (!Number.isInteger(batch) || batch < 1 || batch > 65535) throw usageError('--batch expects 1..65535')
      const port = o.port === undefined ? config.listen.port : Number(o.port)
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw usageError('--port expects 1..65535')
      const connectTimeoutMs = Number(o.connectTimeout)
      if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 1)
        throw usageError('--connect-timeout expects a positive integer (ms)')
      const tls = tlsFromFlags(o, config.tls !== undefined)
      let auth: { token: string } | { hmacKey: string }
      if (o.hmacKey) auth = { hmacKey: o.hmacKey }
      else {
        const token = o.token ?? readDevToken(config)
        if (!token) throw usageError(`no --token given and no dev token at ${config.dataDir}/dev-token`)
        auth = { token }
      }
      const client = await connect({
        host: o.host ?? connectHost(config.listen.host),
        port,
        module: o.module,
        auth,
        clientName: 'module-ingest-cli',
        connectTimeoutMs,
        // Per attempt: keep it under the overall deadline so a silent listener is retried and named.
        handshakeTimeoutMs: Math.max(1, Math.min(5000, Math.floor(connectTimeoutMs / 2))),
        ...(tls ? { tls } : {}),
      })

      const started = performance.now()
      let sent = 0
      let acked = 0
      let skipped = 0
      let failed: unknown
      const pending = new Set<Promise<unknown>>()
      const progress = !o.quiet && process.stderr.isTTY
      const rate = () => {
        const s = (performance.now() - started) / 1000
        return s > 0 ? Math.round(acked / s) : 0
      }
      const ticker = progress
        ? setInterval(() => process.stderr.write(`\rsent ${sent}  acked ${acked}  ${rate()} rec/s   `), 500)
        : undefined
      const track = (p: Promise<unknown>, n: number) => {
        const q = p.then(
          () => {
            acked += n
          },
          (err: unknown) => {
            failed ??= err
          },
        )
        pending.add(q)
        void q.finally(() => pending.delete(q))
      }
      const encoder = new TextEncoder()
      let buffered: Array<{ stream: string; body: Uint8Array }> = []
      const flush = () => {
        if (!buffered.length) return
        const records = buffered
        buffered = []
        track(
          records.length === 1 && batch === 1
            ? client.send(records[0]!.stream, records[0]!.body)
            : client.sendBatch(records),
          records.length,
        )
        sent += records.length
      }

      const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })
      let lineNo = 0
      for await (const line of lines) {
        lineNo++
        if (failed) break
        if (o.json) {
          try {
            JSON.parse(line)
          } catch {
            skipped++
            process.stderr.write(`line ${lineNo}: not valid JSON, skipped\n`)
            continue
          }
        } else if (line === '') continue
        buffered.push({ stream: o.stream, body: encoder.encode(line) })
        if (buffered.length >= batch) flush()
        while (pending.size >= kMaxPending) await Promise.race(pending)
      }
      flush()
      await Promise.all(pending)
      if (ticker) clearInterval(ticker)
      await client.close()
      const secs = (performance.now() - started) / 1000
      if (progress) process.stderr.write('\r\x1b[K')
      process.stderr.write(
        `sent ${sent} records, acked ${acked}${skipped ? `, skipped ${skipped}` : ''} in ${secs.toFixed(2)} s (${rate()} rec/s)\n`,
      )
      if (failed) throw failed
    })
}
