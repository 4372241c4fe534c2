// Recovery checkpoints (meta.ts Checkpoint): where the next recovery scan starts. Written every
// checkpointIntervalBytes / checkpointIntervalMs, after every roll and at close. Module HWMs: the
// marks changed since the last checkpoint are appended to the HWM file (hwm-file.ts), which is
// rewritten whole only once its appended lines outgrow its first one, so a checkpoint writes
// O(changed modules), not O(all modules ever) (100k modules: not MBs per checkpoint).
import type { WriterCtx } from './api.ts'
import { appendHwmDelta, storeHwmSnapshot } from './hwm-file.ts'
import { storeCheckpoint } from './meta.ts'
import type { ModuleMarks } from './module-hwm.ts'

/** What the checkpoint records: read synchronously when a checkpoint starts. */
export interface CheckpointPoint {
  segBase: number
  offset: number
  nextLsn: number
  catalogCount: number
  maxRts: number
  firstTs: number
  /** Files whose written bytes must be on disk before the checkpoint may name them. */
  fds: number[]
}

export class Checkpointer {
  /** Bytes committed since the last checkpoint. */
  bytesSince = 0
  /** Checkpoints written since open, and the last one: bytes written (checkpoint + HWM file), time, marks. */
  count = 0
  last: { bytes: number; ms: number; full: boolean; modules: number } | undefined
  #ctx: WriterCtx
  #marks: ModuleMarks
  #point: () => CheckpointPoint
  #gen: number
  #hwmGen: number | undefined // snapshot the checkpoints' HWM deltas are over (undefined: write one)
  #hwmGenAtOpen: number
  /** Length of the current HWM file, and of its first line (the whole snapshot). */
  #hwmBytes = 0
  #hwmBase = 0
  #running: Promise<void> | undefined
  #again = false
  #lsn = 0 // last lsn the newest checkpoint covers
  #timer: NodeJS.Timeout | undefined

  constructor(
    ctx: WriterCtx,
    marks: ModuleMarks,
    gen: number,
    hwmGenAtOpen: number,
    point: () => CheckpointPoint,
  ) {
    this.#ctx = ctx
    this.#marks = marks
    this.#gen = gen
    this.#hwmGenAtOpen = hwmGenAtOpen
    this.#point = point
  }

  /** Checkpoint every checkpointIntervalMs while durable data moved. */
  start(durableLsn: () => number): void {
    this.#timer = setInterval(() => {
      if (durableLsn() > this.#lsn) void this.run()
    }, this.#ctx.opts.checkpointIntervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /** A commit of `bytes` became durable. */
  committed(bytes: number): void {
    this.bytesSince += bytes
    if (this.bytesSince >= this.#ctx.opts.checkpointIntervalBytes) void this.run()
  }

  /** Resolves when no checkpoint is running. */
  idle(): Promise<void> {
    return this.#running ?? Promise.resolve()
  }

  /** The HWM snapshot the newest checkpoint is over (undefined: none written since open). */
  get hwmGen(): number | undefined {
    return this.#hwmGen
  }

  /** Checkpoint now (also puts the changed module marks in the HWM file). */
  run(): Promise<void> {
    if (this.#running) {
      this.#again = true
      return this.#running
    }
    const p = this.#loop().finally(() => {
      this.#running = undefined
    })
    this.#running = p
    return p
  }

  async #loop(): Promise<void> {
    const { dir, life, flush } = this.#ctx
    // A function, not a narrowed field: the state can change across each await.
    const closed = () => life.state === 'closed'
    do {
      this.#again = false
      if (closed()) return
      const marks = this.#marks
      const dirty = marks.dirty
      const durable = marks.durable
      // A new generation when there is none yet, or the deltas outgrew the snapshot (64 KiB floor).
      const full =
        this.#hwmGen === undefined || this.#hwmBytes - this.#hwmBase > Math.max(64 * 1024, this.#hwmBase)
      const hwmGen = full ? (this.#hwmGen ?? this.#hwmGenAtOpen) + 1 : this.#hwmGen!
      // A full snapshot includes the modules that left memory (module-hwm.ts).
      const taken = full ? marks.snapshotEntries() : new Map([...dirty].map((m) => [m, durable.get(m)!]))
      const text = Object.fromEntries([...taken].map(([m, s]) => [m, s.toString()]))
      const { fds, ...at } = this.#point()
      const bytes = this.bytesSince
      const t0 = performance.now()
      try {
        // Under weaker policies the checkpoint must not point past what is on disk.
        await flush.settle(this.#ctx.io, fds)
        if (closed()) return
        const before = this.#hwmBytes
        if (full) {
          this.#hwmBytes = this.#hwmBase = await storeHwmSnapshot(
            dir,
            { gen: hwmGen, hwm: text },
            this.#ctx.opts.fileMode,
          )
          this.#hwmGen = hwmGen
        } else if (taken.size > 0) {
          this.#hwmBytes = await appendHwmDelta(dir, { gen: hwmGen, hwm: text }, this.#hwmBytes)
        }
        // Modules that changed again meanwhile stay dirty.
        for (const [m, v] of taken) if (durable.get(m) === v) dirty.delete(m)
        if (closed()) return
        const snap = { ...at, hwm: {}, hwmGen, hwmBytes: this.#hwmBytes }
        const cpBytes = await storeCheckpoint(dir, { gen: ++this.#gen, ...snap }, this.#ctx.opts.fileMode)
        this.last = {
          bytes: cpBytes + (full ? this.#hwmBytes : this.#hwmBytes - before),
          ms: performance.now() - t0,
          full,
          modules: taken.size,
        }
        this.count++
        this.#lsn = snap.nextLsn - 1
        this.bytesSince -= bytes
      } catch {
        // A missed checkpoint only lengthens the next recovery scan.
      }
    } while (this.#again)
  }
}
