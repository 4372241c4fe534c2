/**
 * The committed record and its one JSON shape, for everything that prints or ships records: `tail`,
 * recover-dump's dump and export, `archive read`, dead letters, S3 objects, the index query API.
 * Bodies: "auto" shows printable UTF-8 as text and anything else as base64, so a dump is readable
 * for text telemetry and lossless for binary.
 *
 * Its own entry point (`@module-ingest/subscriber-sdk/record`, no imports), which the log re-exports:
 * the log stores exactly this record, so there is one declaration of it.
 */
import type { SubscriberRecord } from './types.ts'

export type { SubscriberRecord }

export const kBodyFormats = ['text', 'hex', 'base64', 'auto'] as const
export type BodyFormat = (typeof kBodyFormats)[number]

const kStrict = new TextDecoder('utf-8', { fatal: true })
const kLossy = new TextDecoder('utf-8')
// C0 controls except \t \n \r, and DEL: a body holding them is not text an operator wants to read.
const kControl = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/

export function printableText(body: Uint8Array): string | undefined {
  try {
    const text = kStrict.decode(body)
    return kControl.test(text) ? undefined : text
  } catch {
    return undefined
  }
}

/** The body and the encoding it is shown in ('utf8' | 'hex' | 'base64'). */
export function encodeBody(body: Uint8Array, format: BodyFormat): { encoding: string; body: string } {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  switch (format) {
    case 'text':
      // Lossy on purpose: invalid sequences become U+FFFD. Use auto or base64 to keep the bytes.
      return { encoding: 'utf8', body: kLossy.decode(body) }
    case 'hex':
      return { encoding: 'hex', body: buf.toString('hex') }
    case 'base64':
      return { encoding: 'base64', body: buf.toString('base64') }
    case 'auto': {
      const text = printableText(body)
      return text === undefined
        ? { encoding: 'base64', body: buf.toString('base64') }
        : { encoding: 'utf8', body: text }
    }
  }
}

/**
 * A record as a JSON-ready object: seq as a decimal string (u64), ts/rts in µs since the epoch.
 * ts is a JSON number up to 2^53-1 and a decimal string above it (a u64 the producer sent): a
 * JSON number that large would be rounded by JSON.parse in JS and many other parsers.
 */
export function recordToJson(r: SubscriberRecord, format: BodyFormat = 'auto') {
  const b = encodeBody(r.body, format)
  return {
    lsn: r.lsn,
    stream: r.stream,
    module: r.module,
    core: r.core,
    seq: r.seq.toString(),
    ts: typeof r.ts === 'bigint' ? r.ts.toString() : r.ts,
    rts: r.rts,
    bodyEncoding: b.encoding,
    body: b.body,
  }
}
