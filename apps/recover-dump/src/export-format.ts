import fs from 'node:fs'
import { recordToJson, type StoredRecord } from '@module-ingest/log'
import { Packr } from 'msgpackr'

// Export file formats (README "Export formats"). Both hold every field of StoredRecord, so a replay
// tool can re-send records with their original module, seq and timestamps.
//
// ndjson   one JSON object per line:
//          {"lsn":1,"stream":"s","module":"m","core":"","seq":"1","ts":…,"rts":…,"bodyEncoding":"base64","body":"<base64>"}
//          seq is a decimal string (u64 does not fit a JSON number); ts/rts are µs since the epoch,
//          ts a decimal string above 2^53-1 (recordToJson: a producer may send any u64).
//
// msgpack  "MIEXMP01" (8 bytes), then per record: u32le length · msgpack array
//          [lsn, stream, module, core, seq, ts, rts, body]
//          seq is a msgpack uint64 (or a smaller int when it fits), body is msgpack bin; ts is a
//          msgpack uint64 above 2^53-1 (read back as a bigint), a number below.
//          The length prefix lets a reader skip records without decoding them.

export const kExportFormats = ['ndjson', 'msgpack'] as const
export type ExportFormat = (typeof kExportFormats)[number]
export const kMsgpackMagic = Buffer.from('MIEXMP01', 'latin1')

const packr = new Packr({ useRecords: false, int64AsType: 'bigint' })

export function encodeRecord(r: StoredRecord, format: ExportFormat): Buffer {
  if (format === 'ndjson') {
    const line = JSON.stringify(recordToJson(r, 'base64'))
    return Buffer.from(`${line}\n`)
  }
  const packed = packr.pack([r.lsn, r.stream, r.module, r.core, r.seq, r.ts, r.rts, r.body])
  const out = Buffer.allocUnsafe(4 + packed.length)
  out.writeUInt32LE(packed.length, 0)
  packed.copy(out, 4)
  return out
}

/** Read an export file back (either format, told apart by the msgpack magic). */
export async function* readExport(file: string): AsyncGenerator<StoredRecord> {
  const data = await fs.promises.readFile(file)
  if (data.subarray(0, kMsgpackMagic.length).equals(kMsgpackMagic)) {
    let p = kMsgpackMagic.length
    while (p < data.length) {
      if (p + 4 > data.length) throw new Error(`${file}: truncated length prefix at offset ${p}`)
      const len = data.readUInt32LE(p)
      if (p + 4 + len > data.length) throw new Error(`${file}: truncated record at offset ${p}`)
      const [lsn, stream, module, core, seq, ts, rts, body] = packr.unpack(data.subarray(p + 4, p + 4 + len))
      yield { lsn, stream, module, core, seq: BigInt(seq), ts, rts, body: new Uint8Array(body) }
      p += 4 + len
    }
    return
  }
  for (const line of data.toString('utf8').split('\n')) {
    if (line === '') continue
    const o = JSON.parse(line)
    const { bodyEncoding: _, ...rest } = o
    const ts = typeof o.ts === 'string' ? BigInt(o.ts) : o.ts
    yield { ...rest, seq: BigInt(o.seq), ts, body: new Uint8Array(Buffer.from(o.body, 'base64')) }
  }
}
