import { type FileHandle, open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { chunkCrc, decodeChunk } from './chunk.ts'
import { MI_ERR_DISK_ARCHIVE_CORRUPT } from './errors.ts'
import {
  CHUNK_HEADER_BYTES,
  dirToStream,
  FILE_EXT,
  FILE_MAGIC,
  periodRange,
  readChunkHeader,
  streamToDir,
} from './format.ts'

export interface ReadArchiveOptions {
  dir: string
  /** One stream; all streams when omitted. */
  stream?: string
  /** Server receive time bounds, inclusive `from`, exclusive `to`: a Date, an ISO string, or µs since epoch. */
  from?: Date | string | number
  to?: Date | string | number
  /** lsn bounds, both inclusive. */
  fromLsn?: number
  toLsn?: number
}

function toUs(t: Date | string | number | undefined, fallback: number): number {
  if (t === undefined) return fallback
  if (typeof t === 'number') return t
  const ms = typeof t === 'string' ? Date.parse(t) : t.getTime()
  if (Number.isNaN(ms)) throw new TypeError(`invalid time: ${String(t)}`)
  return ms * 1000
}

interface Bounds {
  fromUs: number
  toUs: number
  fromLsn: number
  toLsn: number
}

async function listStreams(dir: string, stream: string | undefined): Promise<[string, string][]> {
  if (stream !== undefined) return [[stream, join(dir, streamToDir(stream))]]
  let entries: import('node:fs').Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => [dirToStream(e.name), join(dir, e.name)] as [string, string])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

async function* readFile(path: string, stream: string, b: Bounds): AsyncGenerator<SubscriberRecord[]> {
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  try {
    const size = (await fh.stat()).size
    const head = Buffer.alloc(6)
    if ((await fh.read(head, 0, 6, 0)).bytesRead < 6) return // torn at creation
    if (head.toString('latin1', 0, 4) !== FILE_MAGIC)
      throw new MI_ERR_DISK_ARCHIVE_CORRUPT(path, 0, 'bad magic')
    let pos = 6 + head.readUInt16LE(4)
    const hbuf = Buffer.allocUnsafe(CHUNK_HEADER_BYTES)
    while (pos + CHUNK_HEADER_BYTES <= size) {
      await fh.read(hbuf, 0, CHUNK_HEADER_BYTES, pos)
      const h = readChunkHeader(hbuf)
      const end = h ? pos + CHUNK_HEADER_BYTES + h.payloadBytes : Number.POSITIVE_INFINITY
      // An unreadable header or an incomplete chunk is a torn tail, or a write in progress:
      // stop quietly, as the writer's recovery would cut the file there.
      if (!h || end > size) return
      const skip =
        h.lastLsn < b.fromLsn || h.firstLsn > b.toLsn || h.maxRtsUs < b.fromUs || h.minRtsUs >= b.toUs
      if (!skip) {
        const payload = Buffer.allocUnsafe(h.payloadBytes)
        await fh.read(payload, 0, h.payloadBytes, pos + CHUNK_HEADER_BYTES)
        if (chunkCrc(hbuf, payload) !== h.crc) {
          if (end === size) return
          throw new MI_ERR_DISK_ARCHIVE_CORRUPT(path, pos, 'chunk CRC mismatch')
        }
        const records = decodeChunk(h, payload, stream).filter(
          (r) => r.lsn >= b.fromLsn && r.lsn <= b.toLsn && r.rts >= b.fromUs && r.rts < b.toUs,
        )
        if (records.length > 0) yield records
      }
      pos = end
    }
  } finally {
    await fh.close()
  }
}

async function* readStream(dirPath: string, stream: string, b: Bounds): AsyncGenerator<SubscriberRecord[]> {
  let files: string[]
  try {
    files = (await readdir(dirPath)).filter((f) => f.endsWith(FILE_EXT)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  for (const f of files) {
    const range = periodRange(f)
    if (!range || range[1] <= b.fromUs || range[0] >= b.toUs) continue
    yield* readFile(join(dirPath, f), stream, b)
  }
}

/**
 * Records of the archive in `dir`, oldest first: ordered by lsn across streams (a merge of the
 * per-stream files). Safe to run while the disk subscriber is writing: an incomplete last chunk is
 * not read. Throws MI_ERR_DISK_ARCHIVE_CORRUPT for damage before a file's tail.
 */
export async function* readArchive(options: ReadArchiveOptions): AsyncGenerator<SubscriberRecord> {
  const b: Bounds = {
    fromUs: toUs(options.from, Number.NEGATIVE_INFINITY),
    toUs: toUs(options.to, Number.POSITIVE_INFINITY),
    fromLsn: options.fromLsn ?? 1,
    toLsn: options.toLsn ?? Number.POSITIVE_INFINITY,
  }
  const sources = (await listStreams(options.dir, options.stream)).map(([stream, path]) => ({
    it: readStream(path, stream, b),
    chunk: [] as SubscriberRecord[],
    i: 0,
    done: false,
  }))
  try {
    // Refill a source's current chunk; drop sources that are exhausted.
    const fill = async (s: (typeof sources)[number]) => {
      while (!s.done && s.i >= s.chunk.length) {
        const next = await s.it.next()
        if (next.done) s.done = true
        else {
          s.chunk = next.value
          s.i = 0
        }
      }
    }
    await Promise.all(sources.map(fill))
    let live = sources.filter((s) => !s.done)
    while (live.length > 0) {
      // Linear min-scan: stream counts are small next to record counts.
      let min = live[0]!
      for (const s of live) if (s.chunk[s.i]!.lsn < min.chunk[min.i]!.lsn) min = s
      yield min.chunk[min.i++]!
      if (min.i >= min.chunk.length) {
        await fill(min)
        if (min.done) live = live.filter((s) => s !== min)
      }
    }
  } finally {
    await Promise.all(sources.map((s) => s.it.return(undefined)))
  }
}
