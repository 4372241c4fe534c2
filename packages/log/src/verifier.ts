// Background CRC check of sealed segments (issue 11 item 7: damage anywhere is found, not only
// when a reader happens to pass it). The writer checks one sealed segment per
// `verifyIntervalMs`, round robin, with the same scan as `verifyLog`; every damaged range is
// reported once through `onDamage` (default: a process warning, i.e. a log line on stderr) and
// counted in `log.stats().damage` (the metric). Readers skip such groups with an accounted gap.
import type { LogGap } from './gap.ts'
import { scanSegment } from './raw.ts'

export interface DamageReport extends Pick<LogGap, 'segment' | 'offset' | 'reason'> {
  /** 'recovery': found by openLog; 'background': by this verifier. */
  foundBy: 'recovery' | 'background'
  /** Lsns that cannot be read (background finds know them; recovery's may not). */
  fromLsn?: number
  toLsn?: number
}

export interface DamageStats {
  /** Sealed segments CRC-checked in the background since open (a segment counts once per pass). */
  segmentsChecked: number
  bytesChecked: number
  /** Damaged ranges found (recovery + background), each counted once. */
  damagedRanges: number
  last: DamageReport | undefined
}

export function warnDamage(d: DamageReport): void {
  process.emitWarning(
    `log segment ${d.segment} is damaged at offset ${d.offset} (${d.reason}; found by ${d.foundBy}): ` +
      `lsns ${d.fromLsn ?? '?'}..${d.toLsn ?? '?'} cannot be read; readers skip them. ` +
      'Run `module-ingest-recover-dump verify --log-dir <dir>`',
    { type: 'MiLogDamage' },
  )
}

export class SealedVerifier {
  readonly stats: DamageStats = { segmentsChecked: 0, bytesChecked: 0, damagedRanges: 0, last: undefined }
  #dir: string
  #sealed: () => number[]
  #onDamage: (d: DamageReport) => void
  #seen = new Set<string>()
  #next = 0
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false

  constructor(dir: string, sealed: () => number[], onDamage: (d: DamageReport) => void) {
    this.#dir = dir
    this.#sealed = sealed
    this.#onDamage = onDamage
  }

  start(intervalMs: number): void {
    if (intervalMs <= 0) return
    this.#timer = setInterval(() => void this.tick(), intervalMs)
    this.#timer.unref()
  }

  report(d: DamageReport): void {
    const key = `${d.segment}:${d.offset}`
    if (this.#seen.has(key)) return
    this.#seen.add(key)
    this.stats.damagedRanges++
    this.stats.last = d
    try {
      this.#onDamage(d)
    } catch {
      // A throwing handler must not stop the writer.
    }
  }

  /** Check the next sealed segment (also callable from tests). */
  tick(): Promise<void> {
    this.#running ??= this.#check().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  async #check(): Promise<void> {
    const bases = this.#sealed()
    if (this.#stopped || bases.length === 0) return
    const base = bases[this.#next++ % bases.length]!
    try {
      const scan = await scanSegment(this.#dir, base)
      if (this.#stopped) return
      this.stats.segmentsChecked++
      this.stats.bytesChecked += scan.sizeBytes
      for (const d of scan.damage) {
        const r: DamageReport = {
          segment: d.segment,
          offset: d.offset,
          reason: d.reason,
          foundBy: 'background',
          fromLsn: d.fromLsn,
        }
        if (d.toLsn !== undefined) r.toLsn = d.toLsn
        this.report(r)
      }
    } catch (err) {
      // Deleted by retention meanwhile: nothing to check.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#running?.catch(() => {})
  }
}
