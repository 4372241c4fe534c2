// Recovery checkpoints (meta.ts Checkpoint): where the next recovery scan starts. Written every
// checkpointIntervalBytes / checkpointIntervalMs, after every roll and at close. Module HWMs go
// as a full snapshot (hwm.0|1) only when many changed; otherwise a checkpoint carries just the
// changed ones (60k modules: not 7 MB per checkpoint).
import type { WriterCtx } from './api.ts'
import { storeCheckpoint, storeHwmSnapshot } from './meta.ts'
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
  #ctx: WriterCtx
  #marks: ModuleMarks
  #point: () => CheckpointPoint
  #gen: number
  #hwmGen: number | undefined // snapshot the checkpoints' HWM deltas are over (undefined: write one)
  #hwmGenAtOpen: number
  #running: Promise<void> | undefined
  #again = false
  #forceFull = false
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

  /** Checkpoint now; `fullHwm`: with a full HWM snapshot (before idle modules leave memory). */
  run(fullHwm = false): Promise<void> {
    if (fullHwm) this.#forceFull = true
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
      const full =
        this.#forceFull || this.#hwmGen === undefined || dirty.size > Math.max(1024, durable.size / 4)
      this.#forceFull = false
      const hwmGen = full ? (this.#hwmGen ?? this.#hwmGenAtOpen) + 1 : this.#hwmGen!
      // A full snapshot includes the modules that left memory (module-hwm.ts).
      const taken = full ? marks.snapshotEntries() : new Map([...dirty].map((m) => [m, durable.get(m)!]))
      const text = Object.fromEntries([...taken].map(([m, s]) => [m, s.toString()]))
      const { fds, ...at } = this.#point()
      const snap = { ...at, hwm: full ? {} : text, hwmGen }
      const bytes = this.bytesSince
      try {
        // Under weaker policies the checkpoint must not point past what is on disk.
        await flush.settle(this.#ctx.io, fds)
        if (closed()) return
        if (full) {
          await storeHwmSnapshot(dir, { gen: hwmGen, hwm: text }, this.#ctx.opts.fileMode)
          this.#hwmGen = hwmGen
          // Modules that changed again meanwhile stay dirty.
          for (const [m, v] of taken) if (durable.get(m) === v) dirty.delete(m)
        }
        if (closed()) return
        await storeCheckpoint(dir, { gen: ++this.#gen, ...snap }, this.#ctx.opts.fileMode)
        this.#lsn = snap.nextLsn - 1
        this.bytesSince -= bytes
      } catch {
        // A missed checkpoint only lengthens the next recovery scan.
      }
    } while (this.#again)
  }
}
