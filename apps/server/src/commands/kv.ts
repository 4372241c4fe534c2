/**
 * `module-ingest kv set|get|del|hset|lset|keys|exec`: the keyed store from the shell. Writes go
 * over MIP/1 (module credential with `write:kv.<ns>`), reads over the HTTP read API (operator token
 * with `read:kv.<ns>`). With a read token, a write waits for the store's outcome and fails (exit 1)
 * when it was rejected. Output: one JSON line; int values are exact.
 */
import { type Client, connect, createKv, type KvNamespace, type WriteResult } from '@module-ingest/client'
import {
  inferValue,
  type Command as KvCommand,
  type KvOp,
  type KvType,
  kListActions,
  kTypes,
  type ListAction,
  parseCommand,
  parseDuration,
} from '@module-ingest/kv-protocol'
import { Command } from 'commander'
import {
  type ConfigFlags,
  configFromFlags,
  configOptions,
  connectHost,
  readApiBase,
  readDevToken,
  usageError,
} from '../common.ts'

interface KvFlags extends ConfigFlags {
  host?: string
  port?: string
  module: string
  token?: string
  hmacKey?: string
  url?: string
  readToken?: string
  wait?: boolean
  waitMs: string
}

interface Session {
  kv: (ns: string) => KvNamespace
  client: Client | undefined
  close(): Promise<void>
}

/** JSON with exact bigints (as JSON numbers). */
function print(v: unknown): void {
  const raw = (JSON as unknown as { rawJSON(t: string): unknown }).rawJSON
  process.stdout.write(`${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? raw(x.toString()) : x))}\n`)
}

async function open(o: KvFlags, writes: boolean): Promise<Session> {
  const config = configFromFlags(o)
  const readToken = o.readToken ?? process.env.MI_TOKEN
  const api = o.url ?? readApiBase(config)
  const waitMs = Number(o.waitMs)
  if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > 30_000)
    throw usageError('--wait-ms expects 0..30000')
  let client: Client | undefined
  if (writes) {
    const port = o.port === undefined ? config.listen.port : Number(o.port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw usageError('--port expects 1..65535')
    let auth: { token: string } | { hmacKey: string }
    if (o.hmacKey) auth = { hmacKey: o.hmacKey }
    else {
      const token = o.token ?? readDevToken(config)
      if (!token) throw usageError(`no --token given and no dev token at ${config.dataDir}/dev-token`)
      auth = { token }
    }
    client = await connect({
      host: o.host ?? connectHost(config.listen.host),
      port,
      module: o.module,
      auth,
      clientName: 'module-ingest-cli',
    })
  } else if (!readToken) throw usageError('reads need --read-token <operator token> or MI_TOKEN')
  const reads = o.wait !== false && readToken !== undefined && api !== undefined
  const kv = createKv({
    ...(client ? { client } : {}),
    module: o.module,
    ...(reads ? { api: api!, token: readToken! } : {}),
    ...(!writes && api !== undefined ? { api, token: readToken! } : {}),
    waitMs,
  })
  return { kv, client, close: async () => client?.close() }
}

function writeOptions(o: { ttl?: string; expect?: string }) {
  return {
    ...(o.ttl !== undefined ? { ttlMs: parseDuration(o.ttl) } : {}),
    ...(o.expect !== undefined ? { rev: revision(o.expect) } : {}),
  }
}
function revision(text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw usageError(`--expect expects a revision number, got "${text}"`)
  return Number(text)
}
function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw usageError(`${what}: "${text}" is not JSON (quote strings: '"text"')`)
  }
}

/** Run one parsed command (writes as one transaction). */
async function execute(o: KvFlags, cmd: KvCommand): Promise<void> {
  const s = await open(o, cmd.kind === 'write')
  try {
    if (cmd.kind === 'get') {
      const e = await s.kv(cmd.ns).get(cmd.key)
      if (!e) {
        process.stderr.write(`not found: ${cmd.key} in ${cmd.ns}\n`)
        process.exitCode = 1
        return
      }
      print(e)
    } else if (cmd.kind === 'keys') {
      const limit = Number((o as { limit?: string }).limit ?? 100)
      const after = (o as { after?: string }).after
      print(
        await s.kv(cmd.ns).keys({
          limit,
          ...(cmd.prefix !== undefined ? { prefix: cmd.prefix } : {}),
          ...(after !== undefined ? { after } : {}),
        }),
      )
    } else {
      const ops = cmd.ops
      const r: WriteResult = await s.kv(ops[0]!.ns).txn((t) => {
        t.ops.push(...ops)
      })
      print({ ok: true, seq: r.seq, ...(r.lsn !== undefined ? { lsn: r.lsn, lastLsn: r.lastLsn } : {}) })
    }
  } finally {
    await s.close()
  }
}
export function kvCommand(): Command {
  const common = (cmd: Command) =>
    configOptions(cmd)
      .option('--host <host>', 'server host (default: from config listen)')
      .option('--port <port>', 'server port (default: from config listen)')
      .option('-m, --module <name>', 'module name to write as', 'module-ingest-cli')
      .option('--token <token>', 'module token for writes (default: <dataDir>/dev-token)')
      .option('--hmac-key <key>', 'HMAC key (hex or base64) instead of a token')
      .option(
        '--url <url>',
        'read API base URL (default: http://<telemetry.reads.listen>, or <telemetry.metrics.listen> with reads: false)',
      )
      .option('--read-token <token>', 'operator token with read:kv.<ns> (default $MI_TOKEN)')
      .option('--no-wait', 'writes: return on the durable ACK, do not wait for the outcome')
      .option('--wait-ms <ms>', 'how long a read waits for the store to apply a write', '5000')
  const kv = new Command('kv').description('keyed store: typed values with TTL and transactions (docs/kv.md)')
  const run =
    (build: (...a: string[]) => KvCommand) =>
    async (...args: unknown[]) => {
      const cmd = args.at(-1) as Command
      const o = cmd.opts() as KvFlags
      await execute(o, build(...(args.slice(0, -2) as string[])))
    }
  kv.addCommand(
    common(new Command('set'))
      .description(
        'set a typed value (type inferred like exec: true/false, integers, {...}, [...], else string)',
      )
      .argument('<ns>')
      .argument('<key>')
      .argument('<value>')
      .option('--type <type>', kTypes.join(' | '))
      .option('--ttl <duration>', 'expire after 500ms, 10s, 5m, 2h, 1d')
      .option('--expect <revision>', 'only if the key is at this revision (0: must not exist)')
      .action(async (ns: string, key: string, value: string, _o: unknown, cmd: Command) => {
        const o = cmd.opts() as KvFlags & { type?: string; ttl?: string; expect?: string }
        if (o.type !== undefined && !kTypes.includes(o.type as KvType))
          throw usageError(`--type expects one of ${kTypes.join(', ')}`)
        const v = inferValue({ text: value, quoted: false }, o.type as KvType | undefined)
        await execute(o, {
          kind: 'write',
          ops: [{ ns, op: { op: 'set', key, value: v, ...writeOptions(o) } }],
        })
      }),
  )
  kv.addCommand(
    common(new Command('get'))
      .description('print a key as JSON: {key, type, value, revision, created, expiresAt}; exit 1 if absent')
      .argument('<ns>')
      .argument('<key>')
      .action(run((ns, key) => ({ kind: 'get', ns: ns!, key: key! }))),
  )
  kv.addCommand(
    common(new Command('del'))
      .description('delete a key')
      .argument('<ns>')
      .argument('<key>')
      .option('--expect <revision>', 'only if the key is at this revision')
      .action(async (ns: string, key: string, _o: unknown, cmd: Command) => {
        const o = cmd.opts() as KvFlags & { expect?: string }
        await execute(o, { kind: 'write', ops: [{ ns, op: { op: 'del', key, ...writeOptions(o) } }] })
      }),
  )
  kv.addCommand(
    common(new Command('hset'))
      .description(
        'merge a JSON object into the JSON object at key, or set one field: hset <ns> <key> [field] <json>',
      )
      .argument('<ns>')
      .argument('<key>')
      .argument('<a>', 'a JSON object to merge, or a field name')
      .argument('[json]', 'the field value (JSON)')
      .option('--ttl <duration>', 'expire after this long')
      .option('--expect <revision>', 'only if the key is at this revision')
      .action(
        async (ns: string, key: string, a: string, j: string | undefined, _o: unknown, cmd: Command) => {
          const o = cmd.opts() as KvFlags & { ttl?: string; expect?: string }
          const op: KvOp =
            j === undefined
              ? { op: 'hset', key, value: json(a, 'hset'), ...writeOptions(o) }
              : { op: 'hset', key, field: a, value: json(j, 'hset'), ...writeOptions(o) }
          await execute(o, { kind: 'write', ops: [{ ns, op }] })
        },
      ),
  )
  kv.addCommand(
    common(new Command('lset'))
      .description(`edit the list at key: lset <ns> <key> ${kListActions.join('|')} [index] [json]`)
      .argument('<ns>')
      .argument('<key>')
      .argument('<action>')
      .argument('[args...]', 'push/unshift: <json>; set: <index> <json>; remove: <index>')
      .option('--ttl <duration>', 'expire after this long')
      .option('--expect <revision>', 'only if the key is at this revision')
      .action(async (ns: string, key: string, action: string, rest: string[], _o: unknown, cmd: Command) => {
        const o = cmd.opts() as KvFlags & { ttl?: string; expect?: string }
        if (!kListActions.includes(action as ListAction))
          throw usageError(`lset: action must be one of ${kListActions.join(', ')}`)
        const a = action as ListAction
        const need = a === 'set' ? 2 : a === 'push' || a === 'unshift' || a === 'remove' ? 1 : 0
        if (rest.length !== need) throw usageError(`lset ${a} takes ${need} argument(s)`)
        const index = a === 'set' || a === 'remove' ? Number(rest[0]) : undefined
        if (index !== undefined && !Number.isInteger(index))
          throw usageError(`lset: "${rest[0]}" is not an index`)
        const value =
          a === 'set'
            ? json(rest[1]!, 'lset')
            : a === 'push' || a === 'unshift'
              ? json(rest[0]!, 'lset')
              : undefined
        const op: KvOp = {
          op: 'lset',
          key,
          action: a,
          ...(index !== undefined ? { index } : {}),
          ...(value !== undefined ? { value } : {}),
          ...writeOptions(o),
        }
        await execute(o, { kind: 'write', ops: [{ ns, op }] })
      }),
  )
  kv.addCommand(
    common(new Command('keys'))
      .description('list keys (JSON: {keys, next}); pass next as --after for the next page')
      .argument('<ns>')
      .option('--prefix <prefix>', 'only keys starting with this')
      .option('--after <key>', 'start after this key')
      .option('--limit <n>', 'keys per page (at most 1000)', '100')
      .action(async (ns: string, _o: unknown, cmd: Command) => {
        const o = cmd.opts() as KvFlags & { prefix?: string }
        await execute(
          o,
          o.prefix !== undefined ? { kind: 'keys', ns, prefix: o.prefix } : { kind: 'keys', ns },
        )
      }),
  )
  kv.addCommand(
    common(new Command('watch'))
      .description(
        'print a JSON line per change (put with the value, or del) under a prefix, polling; Ctrl-C stops',
      )
      .argument('<ns>')
      .option('--prefix <prefix>', 'only keys starting with this')
      .option('--interval <duration>', 'poll period', '500ms')
      .option('--max-keys <n>', 'most keys watched', '10000')
      .action(async (ns: string, _o: unknown, cmd: Command) => {
        const o = cmd.opts() as KvFlags & { prefix?: string; interval: string; maxKeys: string }
        const every = parseDuration(o.interval)
        const maxKeys = Number(o.maxKeys)
        const s = await open(o, false)
        const space = s.kv(ns)
        const seen = new Map<string, number>()
        let stop = false
        process.once('SIGINT', () => {
          stop = true
        })
        process.once('SIGTERM', () => {
          stop = true
        })
        while (!stop) {
          const now = new Map<string, number>()
          let after: string | undefined
          do {
            const page = await space.keys({
              limit: 1000,
              ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
              ...(after !== undefined ? { after } : {}),
            })
            for (const k of page.keys) now.set(k.key, k.revision)
            after = page.next
          } while (after !== undefined && now.size < maxKeys)
          for (const [key, rev] of now) {
            if (seen.get(key) === rev) continue
            const e = await space.get(key)
            if (e) print({ event: 'put', ns, ...e })
          }
          for (const key of seen.keys()) if (!now.has(key)) print({ event: 'del', ns, key })
          seen.clear()
          for (const [k, v] of now) seen.set(k, v)
          await new Promise((r) => setTimeout(r, every))
        }
        await s.close()
      }),
  )
  kv.addCommand(
    common(new Command('exec'))
      .description(
        "run a command: 'SET k v FROM ns TTL 10s', HSET, LSET, DEL, GET, KEYS; writes joined by ';' are one transaction",
      )
      .argument('<command>')
      .action(run((text) => parseCommand(text!))),
  )
  return kv
}
