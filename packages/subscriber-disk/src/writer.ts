import {
  chmodSync,
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  writeSync,
  writevSync,
} from 'node:fs'
import { join } from 'node:path'
import type { SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { encodeChunk } from './chunk.ts'
import {
  CHUNK_TARGET_BYTES,
  CODEC,
  encodeFileHeader,
  FILE_EXT,
  periodFile,
  type Rotate,
  streamToDir,
} from './format.ts'
import { recoverFile } from './scan.ts'

export interface ArchiveWriterOptions {
  dir: string
  rotate: Rotate
  compression: 'zstd' | 'none'
  zstdLevel: number
  fsync: 'rotate' | 'batch'
  maxOpenFiles: number
  /** Permission bits of archive files (default 0o600) and directories (default 0o700). */
  fileMode?: number
  dirMode?: number
}

export interface WriteResult {
  written: number
  /** Records at or below the stream's archived lsn: redeliveries, already on disk. */
  skipped: number
  bytes: number
  fsyncs: number
}

export interface RecoveryReport {
  streams: number
  filesChecked: number
  truncatedBytes: number
}

interface OpenFile {
  fd: number
  path: string
  dirty: boolean
}

interface StreamState {
  dirPath: string
  /** Highest lsn archived for the stream: records at or below it are skipped. */
  hwm: number
  /** The newest period file written; moving past it is a rotation. */
  current: string | undefined
}

function fsyncDir(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Appends records to the archive; one instance per subscriber instance, single-threaded. */
export class ArchiveWriter {
  readonly #o: ArchiveWriterOptions
  readonly #streams = new Map<string, StreamState>()
  /** Open files by path, least recently used first (Map keeps insertion order). */
  readonly #files = new Map<string, OpenFile>()
  readonly #recovered = new Set<string>()
  #closed = false

  constructor(options: ArchiveWriterOptions) {
    this.#o = options
  }

  get #dirMode(): number {
    return this.#o.dirMode ?? 0o700
  }

  /**
   * Recover what a previous run left: cut torn tails off the two newest files of every stream
   * (the second because rts order can straddle a period boundary) and learn each stream's
   * archived lsn from their chunk headers.
   */
  open(): RecoveryReport {
    mkdirSync(this.#o.dir, { recursive: true, mode: this.#dirMode })
    // Also an existing root: with 0700 no file inside is readable by other users, whatever mode
    // an older version created it with (issue 11 item 14).
    chmodSync(this.#o.dir, this.#dirMode)
    const report: RecoveryReport = { streams: 0, filesChecked: 0, truncatedBytes: 0 }
    for (const entry of readdirSync(this.#o.dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const dirPath = join(this.#o.dir, entry.name)
      const files = readdirSync(dirPath)
        .filter((f) => f.endsWith(FILE_EXT))
        .sort()
      let hwm = 0
      let stream: string | undefined
      for (const f of files.slice(-2)) {
        const path = join(dirPath, f)
        const r = recoverFile(path)
        this.#recovered.add(path)
        report.filesChecked++
        report.truncatedBytes += r.truncatedBytes
        hwm = Math.max(hwm, r.lastLsn)
        stream ??= r.stream
      }
      if (stream === undefined) continue
      this.#streams.set(stream, { dirPath, hwm, current: files.at(-1) })
      report.streams++
    }
    return report
  }

  /** Archived lsn watermark of a stream (0 when none). */
  hwm(stream: string): number {
    return this.#streams.get(stream)?.hwm ?? 0
  }

  write(batch: readonly SubscriberRecord[]): WriteResult {
    if (this.#closed) throw new Error('archive writer closed')
    const result: WriteResult = { written: 0, skipped: 0, bytes: 0, fsyncs: 0 }
    // Group by stream, keeping lsn order within each; skip what the archive already holds.
    const groups = new Map<string, SubscriberRecord[]>()
    for (const r of batch) {
      const st = this.#stream(r.stream)
      if (r.lsn <= st.hwm) {
        result.skipped++
        continue
      }
      const g = groups.get(r.stream)
      if (g) g.push(r)
      else groups.set(r.stream, [r])
    }
    const codec = this.#o.compression === 'zstd' ? CODEC.zstd : CODEC.none
    for (const [stream, records] of groups) {
      const st = this.#stream(stream)
      let start = 0
      while (start < records.length) {
        // A run: same period file, bodies up to the chunk target.
        const file = periodFile(records[start]!.rts, this.#o.rotate)
        let end = start
        let bodyBytes = 0
        while (end < records.length && bodyBytes < CHUNK_TARGET_BYTES) {
          const r = records[end]!
          if (end > start && periodFile(r.rts, this.#o.rotate) !== file) break
          bodyBytes += r.body.byteLength
          end++
        }
        const of = this.#fileFor(stream, st, file, result)
        const [header, payload] = encodeChunk(records, start, end, { codec, zstdLevel: this.#o.zstdLevel })
        writevSync(of.fd, [header, payload])
        of.dirty = true
        result.bytes += header.length + payload.length
        result.written += end - start
        st.hwm = records[end - 1]!.lsn
        start = end
      }
    }
    if (this.#o.fsync === 'batch') {
      for (const of of this.#files.values()) {
        if (of.dirty) {
          fdatasyncSync(of.fd)
          of.dirty = false
          result.fsyncs++
        }
      }
    }
    return result
  }

  /** fsync and close every open file. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const of of this.#files.values()) this.#closeFile(of)
    this.#files.clear()
  }

  #stream(stream: string): StreamState {
    let st = this.#streams.get(stream)
    if (!st) {
      st = { dirPath: join(this.#o.dir, streamToDir(stream)), hwm: 0, current: undefined }
      this.#streams.set(stream, st)
    }
    return st
  }

  #fileFor(stream: string, st: StreamState, file: string, result: WriteResult): OpenFile {
    const path = join(st.dirPath, file)
    let of = this.#files.get(path)
    if (of) {
      this.#files.delete(path) // re-insert as most recently used
      this.#files.set(path, of)
      return of
    }
    // Rotation: the stream moved to a newer period; its previous file is complete.
    if (st.current !== undefined && file > st.current) {
      const prev = this.#files.get(join(st.dirPath, st.current))
      if (prev) {
        this.#closeFile(prev)
        this.#files.delete(prev.path)
        result.fsyncs++
      }
    }
    if (st.current === undefined || file > st.current) st.current = file
    if (this.#files.size >= this.#o.maxOpenFiles) {
      const [lruPath, lru] = this.#files.entries().next().value!
      this.#closeFile(lru)
      this.#files.delete(lruPath)
    }
    // A new stream directory is an entry in the archive root: make it durable too.
    if (mkdirSync(st.dirPath, { recursive: true, mode: this.#dirMode }) !== undefined) fsyncDir(this.#o.dir)
    // An existing file from an earlier run may have a torn tail: recover before appending.
    if (!this.#recovered.has(path)) {
      try {
        recoverFile(path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
      this.#recovered.add(path)
    }
    const fd = openSync(path, 'a', this.#o.fileMode ?? 0o600)
    if (fstatSync(fd).size === 0) {
      writeSync(fd, encodeFileHeader(stream))
      // Make the new name durable: fsync the file, then its directory entry.
      fsyncSync(fd)
      fsyncDir(st.dirPath)
    }
    of = { fd, path, dirty: false }
    this.#files.set(path, of)
    return of
  }

  #closeFile(of: OpenFile): void {
    fsyncSync(of.fd)
    closeSync(of.fd)
  }
}
