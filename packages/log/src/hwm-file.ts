// Module HWM files (hwm.0 / hwm.1, alternating by generation): the marks of every module, so that
// a module whose mark left memory (module-hwm.ts) and recovery (seeded from here, then the scan
// from the checkpoint) know it. With 100k modules a whole file is MBs, so it is not rewritten per
// checkpoint: each checkpoint appends only the marks that changed since the last one as a line,
// and the file is rewritten whole (a new generation, in the other slot) only once the appended
// lines outgrow the snapshot they follow. Bytes per checkpoint are then O(changed modules),
// amortized ≤ 2× with the rewrite.
//
//   file = line+     line = JSON {crc: crc32(body), body} "\n"     body = JSON {gen, hwm: {module: "seq"}}
//   first line: every module's mark (write-new + fsync + rename + fsync dir); later lines: deltas,
//   written at the end (pwrite + fdatasync) before the checkpoint naming the new length.
//
// A checkpoint names (hwmGen, hwmBytes): recovery reads that file up to hwmBytes, all of which was
// fdatasynced before the checkpoint; a torn line after it (a power cut mid-append) is ignored.
// Marks only grow, so a reader merges lines by max. A checkpoint whose file was replaced by a newer
// generation is invalid (recovery then scans further, seeded with whatever file is still readable).
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { afs, fs } from './fsio.ts'
import { writeFileAtomic } from './meta.ts'

export const kHwmFiles = ['hwm.0', 'hwm.1'] as const

export interface HwmSnapshot {
  gen: number
  hwm: Record<string, string>
}

function line(snap: HwmSnapshot): Buffer {
  const body = JSON.stringify(snap)
  return Buffer.from(`${JSON.stringify({ crc: crc32(body), body })}\n`)
}

/** A new generation with every mark; returns the file's length. */
export async function storeHwmSnapshot(dir: string, snap: HwmSnapshot, mode?: number): Promise<number> {
  const bytes = line(snap)
  await writeFileAtomic(path.join(dir, kHwmFiles[snap.gen % 2]!), bytes, true, mode)
  return bytes.length
}

/** Append the marks changed since (`snap.gen`'s file is `at` bytes long); returns the new length. */
export async function appendHwmDelta(dir: string, snap: HwmSnapshot, at: number): Promise<number> {
  const bytes = line(snap)
  const fd = await afs.open(path.join(dir, kHwmFiles[snap.gen % 2]!), 'r+')
  try {
    for (let off = 0; off < bytes.length; ) off += await afs.write(fd, bytes.subarray(off), at + off)
    await afs.fdatasync(fd)
  } finally {
    await afs.close(fd)
  }
  return at + bytes.length
}

/**
 * The marks in a file's text: its first line, then the deltas up to `upTo` bytes (all of them when
 * absent, stopping at a torn or foreign line). Undefined when the first line is unreadable, not of
 * `gen`, or a line within `upTo` is.
 */
export function parseHwmFile(buf: Buffer, gen?: number, upTo?: number): HwmSnapshot | undefined {
  if (upTo !== undefined && buf.length < upTo) return undefined
  const end = upTo ?? buf.length
  let out: HwmSnapshot | undefined
  for (let pos = 0; pos < end; ) {
    const nl = buf.indexOf(10, pos)
    if (nl < 0 || nl >= end) {
      // Files of older versions are one line without "\n"; otherwise a torn tail.
      if (pos === 0 && upTo === undefined) {
        out = parseLine(buf.toString('utf8', 0, end))
        if (out && (gen === undefined || out.gen === gen)) return out
      }
      return upTo === undefined ? out : undefined
    }
    const snap = parseLine(buf.toString('utf8', pos, nl))
    if (!snap || (out ? snap.gen !== out.gen : gen !== undefined && snap.gen !== gen))
      return upTo === undefined ? out : undefined
    if (!out) out = snap
    else
      for (const [m, s] of Object.entries(snap.hwm)) {
        const had = out.hwm[m]
        if (had === undefined || BigInt(s) > BigInt(had)) out.hwm[m] = s
      }
    pos = nl + 1
  }
  return out
}

function parseLine(text: string): HwmSnapshot | undefined {
  try {
    const { crc, body } = JSON.parse(text) as { crc: number; body: string }
    if (typeof body !== 'string' || crc32(body) !== crc) return undefined
    const snap = JSON.parse(body) as HwmSnapshot
    return Number.isSafeInteger(snap.gen) && snap.hwm && typeof snap.hwm === 'object' ? snap : undefined
  } catch {
    return undefined
  }
}

/** The marks of generation `gen` (empty if unreadable), synchronously: a module back from idle (module-hwm.ts). */
export function loadHwmSnapshotSync(dir: string, gen: number | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>()
  if (gen === undefined) return out
  try {
    const snap = parseHwmFile(fs.readFileSync(path.join(dir, kHwmFiles[gen % 2]!)), gen)
    for (const [m, s] of Object.entries(snap?.hwm ?? {})) out.set(m, BigInt(s))
  } catch {}
  return out
}

/** Generation `gen` read up to `upTo` bytes, or (no gen) the newest readable one. */
export async function loadHwmSnapshot(
  dir: string,
  gen?: number,
  upTo?: number,
): Promise<HwmSnapshot | undefined> {
  let best: HwmSnapshot | undefined
  for (const name of kHwmFiles) {
    try {
      const snap = parseHwmFile(await fs.promises.readFile(path.join(dir, name)), gen, upTo)
      if (snap && (gen !== undefined || !best || snap.gen > best.gen)) best = snap
    } catch {}
  }
  return best
}
