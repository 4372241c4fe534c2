import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync } from 'node:fs'
import { chunkCrc } from './chunk.ts'
import { CHUNK_HEADER_BYTES, FILE_MAGIC, readChunkHeader } from './format.ts'

export interface ScanResult {
  /** Bytes from the start that hold the file header and whole, valid chunks. */
  validBytes: number
  sizeBytes: number
  /** Stream named in the file header; undefined when the header itself is torn. */
  stream: string | undefined
  /** Highest lsn in the valid chunks; 0 when none. */
  lastLsn: number
  chunks: number
}

/**
 * Payloads within this many bytes of the end have their CRC checked on recovery; earlier chunks
 * only have their headers walked. Only an unsynced tail can be torn, and re-reading a full hour
 * file (tens of GB at full ingest rate) on every start would be too slow.
 */
export const VERIFY_TAIL_BYTES = 64 << 20

export function readFileHeader(fd: number): { stream: string; bytes: number } | undefined {
  const head = Buffer.alloc(6)
  if (readSync(fd, head, 0, 6, 0) < 6 || head.toString('latin1', 0, 4) !== FILE_MAGIC) return undefined
  const len = head.readUInt16LE(4)
  const name = Buffer.alloc(len)
  if (readSync(fd, name, 0, len, 6) < len) return undefined
  return { stream: name.toString('utf8'), bytes: 6 + len }
}

/** Walk a file's chunks and find where its valid prefix ends. Never modifies the file. */
export function scanFile(fd: number, verifyTailBytes = VERIFY_TAIL_BYTES): ScanResult {
  const sizeBytes = fstatSync(fd).size
  const fileHeader = readFileHeader(fd)
  const result: ScanResult = { validBytes: 0, sizeBytes, stream: undefined, lastLsn: 0, chunks: 0 }
  if (!fileHeader) return result
  result.stream = fileHeader.stream
  let pos = fileHeader.bytes
  const hbuf = Buffer.allocUnsafe(CHUNK_HEADER_BYTES)
  while (pos + CHUNK_HEADER_BYTES <= sizeBytes) {
    if (readSync(fd, hbuf, 0, CHUNK_HEADER_BYTES, pos) < CHUNK_HEADER_BYTES) break
    const h = readChunkHeader(hbuf)
    if (!h) break
    const end = pos + CHUNK_HEADER_BYTES + h.payloadBytes
    if (end > sizeBytes) break
    if (end > sizeBytes - verifyTailBytes) {
      const payload = Buffer.allocUnsafe(h.payloadBytes)
      readSync(fd, payload, 0, h.payloadBytes, pos + CHUNK_HEADER_BYTES)
      if (chunkCrc(hbuf, payload) !== h.crc) break
    }
    result.lastLsn = Math.max(result.lastLsn, h.lastLsn)
    result.chunks++
    pos = end
  }
  result.validBytes = pos
  return result
}

/**
 * Cut a torn tail off `path` (and fsync), so appends continue after the last whole chunk.
 * A file whose own header is torn is emptied; the writer writes a fresh header.
 */
export function recoverFile(path: string): ScanResult & { truncatedBytes: number } {
  const fd = openSync(path, 'r+')
  try {
    const scan = scanFile(fd)
    const truncatedBytes = scan.sizeBytes - scan.validBytes
    if (truncatedBytes > 0) {
      ftruncateSync(fd, scan.validBytes)
      fsyncSync(fd)
    }
    return { ...scan, truncatedBytes }
  } finally {
    closeSync(fd)
  }
}
