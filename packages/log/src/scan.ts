// Sequential group iteration over a segment file: the one loop that recovery, index rebuilds, the
// raw verify tools and readers' positioning share.
import fs from 'node:fs'
import { promisify } from 'node:util'
import { checkGroup, type GroupHeader } from './format.ts'

const read = promisify(fs.read)

export const kScanChunkBytes = 1024 * 1024

export interface ScannedGroup {
  header: GroupHeader
  payload: Uint8Array
  restPos: number
}

export interface ScanStop {
  offset: number // first byte not accepted (== end when the scan ran clean)
  reason?: string // set when a bad group stopped the scan before `end`
}

export async function readAt(fd: number, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length)
  let got = 0
  while (got < length) {
    const { bytesRead } = await read(fd, buf, got, length - got, position + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return got === length ? buf : buf.subarray(0, got)
}

/**
 * Visit every valid group in [start, end). Stops at the first group that fails its checks (torn,
 * CRC-bad, or over `end`) and reports where. `visit` may return false to stop early (clean stop).
 */
export async function scanGroups(
  fd: number,
  start: number,
  end: number,
  visit: (g: ScannedGroup) => boolean | undefined | Promise<boolean | undefined>,
  opts: { verifyCrc?: boolean; chunkBytes?: number } = {},
): Promise<ScanStop> {
  const chunk = opts.chunkBytes ?? kScanChunkBytes
  const verifyCrc = opts.verifyCrc ?? true
  let buf: Buffer = Buffer.alloc(0)
  let bufOff = start // segment offset of buf[0]
  let offset = start
  while (offset < end) {
    const pos = offset - bufOff
    let check = checkGroup(buf, pos, bufOff, verifyCrc)
    // Refill from `offset`: first a chunk, then (for a group bigger than a chunk, whose size we only
    // learn from its prefix) exactly the group.
    for (let refill = 0; !check.ok && check.needBytes !== undefined; refill++) {
      if (refill === 2 || offset + check.needBytes > end)
        return { offset, reason: `torn group (${check.reason})` }
      buf = await readAt(fd, offset, Math.min(Math.max(chunk, check.needBytes), end - offset))
      bufOff = offset
      check = checkGroup(buf, 0, bufOff, verifyCrc)
    }
    if (!check.ok) return { offset, reason: check.reason }
    const more = await visit({ header: check.header, payload: check.payload, restPos: check.restPos })
    offset += check.header.totalBytes
    if (more === false) return { offset }
  }
  return { offset }
}
