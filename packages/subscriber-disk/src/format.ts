/**
 * On-disk format of the archive (version 1). Design constraints:
 *
 * - One directory per stream, one file per period (UTC hour or day, by the records' server
 *   receive time `rts`): `<dir>/<stream-dir>/2026-11-22T09.mia` or `…/2026-11-22.mia`.
 * - Append-only. A file is a header followed by chunks; one chunk holds the records of one stream
 *   from one handle() call (split at ~1 MiB of bodies). Nothing spans two files.
 * - Every chunk carries a CRC-32 over its header tail and payload, so a torn tail (crash mid-write)
 *   is found and cut off on the next init; records are never half-visible.
 * - Chunks carry first/last lsn and min/max rts, so readers skip by lsn or time without decoding,
 *   and the writer learns the highest lsn archived per stream (its dedupe watermark) from headers.
 *
 * ```
 * file   := "MIA1" u16le(nameLen) streamName(utf8) chunk*
 * chunk  := header(56) payload(payloadBytes)
 * header := u32 CHUNK_MAGIC        'MIAC'
 *           u32 crc32              zlib.crc32 of header[8..56) ++ payload
 *           u32 payloadBytes       as stored (compressed or not)
 *           u32 rawBytes           msgpack size before compression
 *           u8  codec              0 none, 1 zstd
 *           u8  reserved, u16 reserved
 *           u32 recordCount
 *           f64 firstLsn, f64 lastLsn
 *           f64 minRtsUs, f64 maxRtsUs
 * payload := codec(msgpack([ [lsn, module, core, seq(bigint), ts, rts, body(bin)] … ]))
 * ```
 *
 * All integers little-endian; lsns and receive times are below 2^53, exact in a float64. A record
 * ts is any u64 the producer sent: a msgpack number up to 2^53-1, a msgpack uint64 above it.
 */

export const FILE_MAGIC = 'MIA1'
export const FILE_EXT = '.mia'
export const CHUNK_MAGIC = 0x4341494d // 'MIAC' read as u32le
export const CHUNK_HEADER_BYTES = 56
export const CODEC = { none: 0, zstd: 1 } as const
/** A chunk is cut after this many body bytes so a reader never holds a huge payload. */
export const CHUNK_TARGET_BYTES = 1 << 20
/** Sanity bound when scanning: anything larger is a corrupt length field. */
export const MAX_CHUNK_BYTES = 256 << 20

export type Rotate = 'hour' | 'day'

export interface ChunkHeader {
  crc: number
  payloadBytes: number
  rawBytes: number
  codec: number
  recordCount: number
  firstLsn: number
  lastLsn: number
  minRtsUs: number
  maxRtsUs: number
}

export function encodeFileHeader(stream: string): Buffer {
  const name = Buffer.from(stream, 'utf8')
  const buf = Buffer.allocUnsafe(6 + name.length)
  buf.write(FILE_MAGIC, 0, 'latin1')
  buf.writeUInt16LE(name.length, 4)
  name.copy(buf, 6)
  return buf
}

/** Write everything but the CRC (bytes 4..8), which covers bytes 8.. of this header. */
export function writeChunkHeader(buf: Buffer, h: Omit<ChunkHeader, 'crc'>): void {
  buf.writeUInt32LE(CHUNK_MAGIC, 0)
  buf.writeUInt32LE(0, 4)
  buf.writeUInt32LE(h.payloadBytes, 8)
  buf.writeUInt32LE(h.rawBytes, 12)
  buf.writeUInt8(h.codec, 16)
  buf.writeUInt8(0, 17)
  buf.writeUInt16LE(0, 18)
  buf.writeUInt32LE(h.recordCount, 20)
  buf.writeDoubleLE(h.firstLsn, 24)
  buf.writeDoubleLE(h.lastLsn, 32)
  buf.writeDoubleLE(h.minRtsUs, 40)
  buf.writeDoubleLE(h.maxRtsUs, 48)
}

/** undefined when the bytes cannot be a chunk header (wrong magic or impossible fields). */
export function readChunkHeader(buf: Buffer): ChunkHeader | undefined {
  if (buf.length < CHUNK_HEADER_BYTES || buf.readUInt32LE(0) !== CHUNK_MAGIC) return undefined
  const h: ChunkHeader = {
    crc: buf.readUInt32LE(4),
    payloadBytes: buf.readUInt32LE(8),
    rawBytes: buf.readUInt32LE(12),
    codec: buf.readUInt8(16),
    recordCount: buf.readUInt32LE(20),
    firstLsn: buf.readDoubleLE(24),
    lastLsn: buf.readDoubleLE(32),
    minRtsUs: buf.readDoubleLE(40),
    maxRtsUs: buf.readDoubleLE(48),
  }
  if (h.codec !== CODEC.none && h.codec !== CODEC.zstd) return undefined
  if (h.payloadBytes > MAX_CHUNK_BYTES || h.rawBytes > MAX_CHUNK_BYTES) return undefined
  if (!(h.firstLsn >= 1 && h.lastLsn >= h.firstLsn && Number.isSafeInteger(h.lastLsn))) return undefined
  return h
}

/**
 * Stream names become directory names: [A-Za-z0-9._-] stay, every other byte is %XX, and a leading
 * '.' is escaped so no stream maps to '.', '..' or a hidden file. Reversible, and distinct
 * streams never share a directory.
 */
export function streamToDir(stream: string): string {
  if (stream === '') return '%' // never produced otherwise: '%' is always followed by two hex digits
  let out = ''
  for (const byte of Buffer.from(stream, 'utf8')) {
    const c = String.fromCharCode(byte)
    const plain = /[A-Za-z0-9_-]/.test(c) || (c === '.' && out !== '')
    out += plain ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

export function dirToStream(dir: string): string {
  if (dir === '%') return ''
  return Buffer.from(
    dir.replace(/%([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  ).toString('utf8')
}

/** File name of the period holding `rtsUs`: `2026-11-22T09.mia` (hour) or `2026-11-22.mia` (day). */
export function periodFile(rtsUs: number, rotate: Rotate): string {
  const iso = new Date(Math.floor(rtsUs / 1000)).toISOString() // 2026-11-22T09:41:07.123Z
  return (rotate === 'hour' ? iso.slice(0, 13) : iso.slice(0, 10)) + FILE_EXT
}

/** [startUs, endUs) of the period a file name stands for; undefined for foreign files. */
export function periodRange(file: string): [number, number] | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}))?\.mia$/.exec(file)
  if (!m) return undefined
  const startMs = Date.parse(`${m[1]}T${m[2] ?? '00'}:00:00Z`)
  if (Number.isNaN(startMs)) return undefined
  const spanMs = m[2] === undefined ? 86_400_000 : 3_600_000
  return [startMs * 1000, (startMs + spanMs) * 1000]
}
