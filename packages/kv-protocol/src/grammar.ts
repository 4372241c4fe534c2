/**
 * The command grammar of `module-ingest kv exec`, for users of stores with SET ... FROM ... TTL:
 *
 *   SET  <key> <value> FROM <ns> [TTL <duration>] [TYPE string|json|list|int|bool] [IF REV <n>]
 *   HSET <key> [<field>] <json> FROM <ns> [TTL <duration>] [IF REV <n>]
 *   LSET <key> PUSH|UNSHIFT <json> FROM <ns> [TTL ...] [IF REV <n>]
 *   LSET <key> POP|SHIFT FROM <ns>  ·  LSET <key> SET <index> <json> FROM <ns>  ·  LSET <key> REMOVE <index> FROM <ns>
 *   DEL  <key> FROM <ns> [IF REV <n>]
 *   GET  <key> FROM <ns>  ·  KEYS [<prefix>] FROM <ns>
 *
 * Keywords are case-insensitive. Several writes separated by `;` are one transaction. A SET value
 * without TYPE is typed by its text: true/false → bool, an integer → int, {...} → json, [...] → list,
 * anything else (or a quoted "..." / '...') → string. Durations: 500ms, 10s, 5m, 2h, 1d (bare = s).
 */
import { MI_ERR_KV_COMMAND_INVALID } from './errors.ts'
import { type KvOp, type KvType, type KvValue, kTypes, parseDuration, parseInt64 } from './ops.ts'

interface Token {
  text: string
  /** Written in quotes: never a keyword, always a string. */
  quoted: boolean
}

export type Command =
  | { kind: 'write'; ops: Array<{ ns: string; op: KvOp }> }
  | { kind: 'get'; ns: string; key: string }
  | { kind: 'keys'; ns: string; prefix?: string }

function tokenize(text: string): Token[][] {
  const statements: Token[][] = [[]]
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text[i]!
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (c === ';') {
      statements.push([])
      i++
      continue
    }
    let j = i
    if (c === '"') {
      j++
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      if (j >= n) throw new MI_ERR_KV_COMMAND_INVALID('unterminated "..." string')
      const lit = text.slice(i, j + 1)
      let value: string
      try {
        value = JSON.parse(lit) as string
      } catch {
        throw new MI_ERR_KV_COMMAND_INVALID(`bad string ${lit}`)
      }
      statements.at(-1)!.push({ text: value, quoted: true })
      i = j + 1
      continue
    }
    if (c === "'") {
      const end = text.indexOf("'", i + 1)
      if (end < 0) throw new MI_ERR_KV_COMMAND_INVALID("unterminated '...' string")
      statements.at(-1)!.push({ text: text.slice(i + 1, end), quoted: true })
      i = end + 1
      continue
    }
    // A bare word; { } [ ] nest so that JSON with spaces stays one token.
    let depth = 0
    while (j < n) {
      const d = text[j]!
      if (d === '"' && depth > 0) {
        j++
        while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      } else if (d === '{' || d === '[') depth++
      else if (d === '}' || d === ']') depth--
      else if (depth === 0 && (/\s/.test(d) || d === ';')) break
      j++
    }
    statements.at(-1)!.push({ text: text.slice(i, j), quoted: false })
    i = j
  }
  return statements.filter((s) => s.length > 0)
}

const kw = (t: Token | undefined, word: string) =>
  t !== undefined && !t.quoted && t.text.toUpperCase() === word

function json(t: Token, what: string): unknown {
  if (t.quoted) return t.text
  try {
    return JSON.parse(t.text)
  } catch {
    throw new MI_ERR_KV_COMMAND_INVALID(`${what}: "${t.text}" is not JSON (quote a string: '"text"')`)
  }
}

/** A SET value's type from its text, when no TYPE clause names one. */
export function inferValue(t: Token, type?: KvType): KvValue {
  const s = t.text
  if (type === undefined) {
    if (t.quoted) return { type: 'string', value: s }
    if (s === 'true' || s === 'false') return { type: 'bool', value: s === 'true' }
    if (/^-?\d{1,19}$/.test(s)) {
      try {
        return { type: 'int', value: parseInt64(s) }
      } catch {
        return { type: 'string', value: s }
      }
    }
    if (s.startsWith('{')) return { type: 'json', value: json(t, 'value') }
    if (s.startsWith('[')) return { type: 'list', value: json(t, 'value') as unknown[] }
    return { type: 'string', value: s }
  }
  switch (type) {
    case 'string':
      return { type, value: s }
    case 'int':
      try {
        return { type, value: parseInt64(s) }
      } catch (err) {
        throw new MI_ERR_KV_COMMAND_INVALID((err as Error).message)
      }
    case 'bool':
      if (s !== 'true' && s !== 'false')
        throw new MI_ERR_KV_COMMAND_INVALID(`bool value must be true or false`)
      return { type, value: s === 'true' }
    case 'json':
      return { type, value: json(t, 'value') }
    case 'list': {
      const v = json(t, 'value')
      if (!Array.isArray(v)) throw new MI_ERR_KV_COMMAND_INVALID('a list value must be a JSON array')
      return { type, value: v }
    }
  }
}

function statement(tokens: Token[]): Command {
  const verb = tokens[0]!.text.toUpperCase()
  const from = tokens.findIndex((t) => kw(t, 'FROM'))
  if (from < 0 || from + 1 >= tokens.length)
    throw new MI_ERR_KV_COMMAND_INVALID(`${verb}: expected FROM <namespace>`)
  const ns = tokens[from + 1]!.text
  const args = tokens.slice(1, from)
  const tail = tokens.slice(from + 2)
  const opts: { ttlMs?: number; type?: KvType; rev?: number } = {}
  for (let k = 0; k < tail.length; ) {
    if (kw(tail[k], 'TTL') && tail[k + 1]) {
      try {
        opts.ttlMs = parseDuration(tail[k + 1]!.text)
      } catch (err) {
        throw new MI_ERR_KV_COMMAND_INVALID((err as Error).message)
      }
      k += 2
    } else if (kw(tail[k], 'TYPE') && tail[k + 1]) {
      const t = tail[k + 1]!.text.toLowerCase()
      if (!kTypes.includes(t as KvType))
        throw new MI_ERR_KV_COMMAND_INVALID(`TYPE ${t}: expected one of ${kTypes.join(', ')}`)
      opts.type = t as KvType
      k += 2
    } else if (kw(tail[k], 'IF') && kw(tail[k + 1], 'REV') && tail[k + 2]) {
      const r = tail[k + 2]!.text
      if (!/^\d{1,15}$/.test(r))
        throw new MI_ERR_KV_COMMAND_INVALID(`IF REV ${r}: expected a revision number`)
      opts.rev = Number(r)
      k += 3
    } else throw new MI_ERR_KV_COMMAND_INVALID(`${verb}: unexpected "${tail[k]!.text}" after FROM ${ns}`)
  }
  const rev = opts.rev === undefined ? {} : { rev: opts.rev }
  const ttl = opts.ttlMs === undefined ? {} : { ttlMs: opts.ttlMs }
  const key = args[0]?.text
  const need = (count: number, usage: string) => {
    if (args.length !== count) throw new MI_ERR_KV_COMMAND_INVALID(`usage: ${usage}`)
  }
  const write = (op: KvOp): Command => ({ kind: 'write', ops: [{ ns, op }] })
  if (verb !== 'SET' && opts.type !== undefined)
    throw new MI_ERR_KV_COMMAND_INVALID(`${verb}: TYPE applies to SET only`)
  switch (verb) {
    case 'SET':
      need(2, 'SET <key> <value> FROM <ns> [TTL <duration>] [TYPE <type>] [IF REV <n>]')
      return write({ op: 'set', key: key!, value: inferValue(args[1]!, opts.type), ...ttl, ...rev })
    case 'HSET':
      if (args.length === 2)
        return write({ op: 'hset', key: key!, value: json(args[1]!, 'HSET'), ...ttl, ...rev })
      need(3, 'HSET <key> [<field>] <json> FROM <ns>')
      return write({
        op: 'hset',
        key: key!,
        field: args[1]!.text,
        value: json(args[2]!, 'HSET'),
        ...ttl,
        ...rev,
      })
    case 'LSET': {
      const action = args[1]?.text.toLowerCase()
      if (action === 'push' || action === 'unshift') {
        need(3, `LSET <key> ${action.toUpperCase()} <json> FROM <ns>`)
        return write({ op: 'lset', key: key!, action, value: json(args[2]!, 'LSET'), ...ttl, ...rev })
      }
      if (action === 'pop' || action === 'shift') {
        need(2, `LSET <key> ${action.toUpperCase()} FROM <ns>`)
        return write({ op: 'lset', key: key!, action, ...ttl, ...rev })
      }
      const index = (t: Token) => {
        if (!/^-?\d{1,9}$/.test(t.text))
          throw new MI_ERR_KV_COMMAND_INVALID(`LSET: "${t.text}" is not an index`)
        return Number(t.text)
      }
      if (action === 'set') {
        need(4, 'LSET <key> SET <index> <json> FROM <ns>')
        return write({
          op: 'lset',
          key: key!,
          action,
          index: index(args[2]!),
          value: json(args[3]!, 'LSET'),
          ...ttl,
          ...rev,
        })
      }
      if (action === 'remove') {
        need(3, 'LSET <key> REMOVE <index> FROM <ns>')
        return write({ op: 'lset', key: key!, action, index: index(args[2]!), ...ttl, ...rev })
      }
      throw new MI_ERR_KV_COMMAND_INVALID('LSET <key> PUSH|UNSHIFT|POP|SHIFT|SET|REMOVE ... FROM <ns>')
    }
    case 'DEL':
      need(1, 'DEL <key> FROM <ns> [IF REV <n>]')
      if (opts.ttlMs !== undefined) throw new MI_ERR_KV_COMMAND_INVALID('DEL takes no TTL')
      return write({ op: 'del', key: key!, ...rev })
    case 'GET':
      need(1, 'GET <key> FROM <ns>')
      if (tail.length) throw new MI_ERR_KV_COMMAND_INVALID('GET <key> FROM <ns> takes no options')
      return { kind: 'get', ns, key: key! }
    case 'KEYS':
      if (args.length > 1) throw new MI_ERR_KV_COMMAND_INVALID('usage: KEYS [<prefix>] FROM <ns>')
      return args[0] ? { kind: 'keys', ns, prefix: args[0].text } : { kind: 'keys', ns }
    default:
      throw new MI_ERR_KV_COMMAND_INVALID(`unknown command "${tokens[0]!.text}" (SET HSET LSET DEL GET KEYS)`)
  }
}

/** Parse one command, or several writes separated by `;` (one transaction). */
export function parseCommand(text: string): Command {
  const statements = tokenize(text)
  if (statements.length === 0) throw new MI_ERR_KV_COMMAND_INVALID('empty command')
  const parsed = statements.map(statement)
  if (parsed.length === 1) return parsed[0]!
  const ops: Array<{ ns: string; op: KvOp }> = []
  for (const c of parsed) {
    if (c.kind !== 'write')
      throw new MI_ERR_KV_COMMAND_INVALID('only writes can be combined with ";" (one transaction)')
    ops.push(...c.ops)
  }
  return { kind: 'write', ops }
}
