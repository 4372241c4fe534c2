import { constants, crc32, zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import type { SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { Packr, Unpackr } from 'msgpackr'
import { CHUNK_HEADER_BYTES, type ChunkHeader, CODEC, writeChunkHeader } from './format.ts'

// Plain msgpack arrays, no msgpackr record extension: any msgpack reader can decode a payload.
const packr = new Packr({ useRecords: false, variableMapSize: true })
const unpackr = new Unpackr({ useRecords: false })

// ts: a msgpack uint64 (a bigint here) above 2^53-1, as SubscriberRecord carries it.
type Tuple = [number, string, string, bigint, number | bigint, number, Uint8Array]

export interface EncodeOptions {
  codec: number
  zstdLevel: number
}

/**
 * Encode records[start, end) of one stream as a chunk: header + payload, CRC filled in.
 * Returns the two buffers to write with one writev.
 */
export function encodeChunk(
  records: readonly SubscriberRecord[],
  start: number,
  end: number,
  options: EncodeOptions,
): [Buffer, Buffer] {
  const tuples = new Array<Tuple>(end - start)
  let minRts = Number.POSITIVE_INFINITY
  let maxRts = 0
  for (let i = start; i < end; i++) {
    const r = records[i]!
    tuples[i - start] = [r.lsn, r.module, r.core, r.seq, r.ts, r.rts, r.body]
    if (r.rts < minRts) minRts = r.rts
    if (r.rts > maxRts) maxRts = r.rts
  }
  const raw = packr.pack(tuples)
  const payload =
    options.codec === CODEC.zstd
      ? zstdCompressSync(raw, { params: { [constants.ZSTD_c_compressionLevel]: options.zstdLevel } })
      : raw
  const header = Buffer.allocUnsafe(CHUNK_HEADER_BYTES)
  writeChunkHeader(header, {
    payloadBytes: payload.length,
    rawBytes: raw.length,
    codec: options.codec,
    recordCount: end - start,
    firstLsn: records[start]!.lsn,
    lastLsn: records[end - 1]!.lsn,
    minRtsUs: minRts,
    maxRtsUs: maxRts,
  })
  header.writeUInt32LE(chunkCrc(header, payload), 4)
  return [header, payload]
}

export function chunkCrc(header: Buffer, payload: Uint8Array): number {
  return crc32(payload, crc32(header.subarray(8, CHUNK_HEADER_BYTES)))
}

/** Decode a verified chunk's payload into records of `stream`. */
export function decodeChunk(h: ChunkHeader, payload: Buffer, stream: string): SubscriberRecord[] {
  const raw = h.codec === CODEC.zstd ? zstdDecompressSync(payload) : payload
  const tuples = unpackr.unpack(raw) as Tuple[]
  const out = new Array<SubscriberRecord>(tuples.length)
  for (let i = 0; i < tuples.length; i++) {
    const t = tuples[i]!
    out[i] = {
      lsn: Number(t[0]),
      stream,
      module: t[1],
      core: t[2],
      seq: BigInt(t[3]),
      ts: typeof t[4] === 'bigint' ? t[4] : Number(t[4]),
      rts: Number(t[5]),
      body: t[6],
    }
  }
  return out
}
