import { formatBytes } from './common.ts'

// A one-line TTY progress bar on stderr. Hand-written rather than cli-progress: one bar, no
// multi-bar layout, and it must stay silent when stderr is a pipe or a file (cron, CI, tests),
// where the command prints only its final summary.

export interface ProgressOptions {
  label: string
  total: number
  unit: 'bytes' | 'records'
  stream?: NodeJS.WriteStream
  /** Draw even when the stream is not a TTY (tests of the renderer). */
  force?: boolean
}

const kWidth = 28
const kRedrawMs = 100

export function renderBar(
  label: string,
  done: number,
  total: number,
  unit: 'bytes' | 'records',
  elapsedMs: number,
): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1
  const filled = Math.round(frac * kWidth)
  const bar = '█'.repeat(filled) + '░'.repeat(kWidth - filled)
  const amount = unit === 'bytes' ? `${formatBytes(done)}/${formatBytes(total)}` : `${done}/${total} records`
  let eta = ''
  if (frac > 0 && frac < 1 && elapsedMs > 0) {
    const leftS = Math.round(((elapsedMs / frac) * (1 - frac)) / 1000)
    eta = `  ETA ${leftS >= 60 ? `${Math.floor(leftS / 60)}m${String(leftS % 60).padStart(2, '0')}s` : `${leftS}s`}`
  }
  return `${label} ${bar} ${String(Math.floor(frac * 100)).padStart(3)}%  ${amount}${eta}`
}

export class Progress {
  #o: ProgressOptions
  #stream: NodeJS.WriteStream
  #on: boolean
  #start = Date.now()
  #lastDraw = 0
  #done = 0

  constructor(o: ProgressOptions) {
    this.#o = o
    this.#stream = o.stream ?? process.stderr
    this.#on = o.force === true || this.#stream.isTTY === true
  }

  update(done: number): void {
    this.#done = done
    if (!this.#on) return
    const now = Date.now()
    if (now - this.#lastDraw < kRedrawMs) return
    this.#lastDraw = now
    this.#draw()
  }

  #draw(): void {
    const line = renderBar(this.#o.label, this.#done, this.#o.total, this.#o.unit, Date.now() - this.#start)
    this.#stream.write(`\r${line}\x1b[K`)
  }

  /** Draw the final state and end the line (the summary goes below it). */
  stop(): void {
    if (!this.#on) return
    this.#draw()
    this.#stream.write('\n')
  }
}
