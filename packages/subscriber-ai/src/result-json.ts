import type { SubscriberRecord } from '@module-ingest/subscriber-sdk'
import type { OutputTensor } from './backend.ts'
import { f32Text } from './f32-text.ts'

/**
 * The derived record's JSON, written by hand: it has a fixed shape, and a template is about 3×
 * faster than building an object for JSON.stringify (measured with the bench; it is the largest
 * per-record cost after parsing the body). It parses to the AiResult object; float32 outputs are
 * printed as float32s (f32-text.ts: the shortest decimal that rounds back to the same float32).
 */
const kQuoted = new Map<string, string>()

function quote(s: string): string {
  let q = kQuoted.get(s)
  if (q === undefined) {
    q = JSON.stringify(s)
    // Module and stream names repeat; bound the cache in case they do not.
    if (kQuoted.size < 65_536) kQuoted.set(s, q)
  }
  return q
}

// JSON has no NaN/Infinity: JSON.stringify writes null, and so do we.
const num = (x: number) => (Number.isFinite(x) ? `${x}` : 'null')
const big = (x: number | bigint) => num(typeof x === 'bigint' ? Number(x) : x)

/**
 * A µs timestamp as JSON: a safe integer past 2^31 is a heap number, which `${}` formats with the
 * double-to-shortest algorithm (~75 ns); two Smi halves print as integers (~25 ns), same text.
 */
function tsText(ts: number | bigint): string {
  if (typeof ts === 'bigint') return `"${ts}"`
  if (ts < 1e8 || ts > Number.MAX_SAFE_INTEGER || !Number.isInteger(ts)) return `${ts}`
  const hi = Math.floor(ts / 1e8)
  const lo = `${ts - hi * 1e8}`
  return `${hi}${kZeros.slice(lo.length)}${lo}`
}
const kZeros = '00000000'

/** `,"module":…,"core":…,"stream":…,"ts":` for the last (module, core, stream): batches repeat them. */
let lastModule = ''
let lastCore = ''
let lastStream = ''
let lastMiddle = ''

/** The record's provenance and the outputs' text (`"name":value,…`) as one JSON object. */
function envelope(
  r: SubscriberRecord,
  outputs: string,
  window: { firstLsn: number; size: number } | undefined,
): string {
  if (r.module !== lastModule || r.core !== lastCore || r.stream !== lastStream || lastMiddle === '') {
    lastModule = r.module
    lastCore = r.core
    lastStream = r.stream
    lastMiddle = `,"module":${quote(r.module)},"core":${quote(r.core)},"stream":${quote(r.stream)},"ts":`
  }
  const w = window ? `,"window":{"firstLsn":${window.firstLsn},"size":${window.size}}` : ''
  return `{"lsn":${r.lsn}${lastMiddle}${tsText(r.ts)}${w},"outputs":{${outputs}}}`
}

/**
 * The JSON for row `i` of output tensors of `n` rows, read straight from the tensors (no
 * per-record arrays): a number for [N] or [N,1] outputs, an array otherwise, as rowValue gives.
 * Integer (bigint) outputs are written as numbers, as Number() of them would be; float32 tensors
 * with float32 digits (a consumer's Math.fround of the parsed number is the model's exact value).
 */
export function resultWriter(
  names: readonly string[],
  tensors: readonly OutputTensor[],
  n: number,
): (r: SubscriberRecord, i: number, window: { firstLsn: number; size: number } | undefined) => string {
  const keys = names.map((name, k) => `${k === 0 ? '' : ','}${quote(name)}:`)
  const per = tensors.map((t) => (n === 0 ? 0 : t.data.length / n))
  const scalar = tensors.map((t, k) => per[k] === 1 && t.dims.length <= 2)
  // f32Text is only handed a Float32Array's elements (numbers).
  const asF32 = f32Text as (x: number | bigint) => string
  const text = tensors.map((t) => (t.data instanceof Float32Array ? asF32 : big))
  return (r, i, window) => {
    let outputs = ''
    for (let k = 0; k < tensors.length; k++) {
      const data = tensors[k]!.data
      const print = text[k]!
      if (scalar[k]) {
        outputs += keys[k]! + print(data[i]!)
        continue
      }
      const m = per[k]!
      let out = '['
      for (let j = 0; j < m; j++) out += (j === 0 ? '' : ',') + print(data[i * m + j]!)
      outputs += `${keys[k]!}${out}]`
    }
    return envelope(r, outputs, window)
  }
}
