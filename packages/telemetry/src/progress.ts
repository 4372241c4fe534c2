// The one progress bar of the command-line tools (recover-dump verify/export, queue-worker): one
// line on stderr, redrawn at most every 100 ms. Hand-written rather than cli-progress: one bar, no
// multi-bar layout, and it must stay silent when stderr is a pipe or a file (cron, CI, tests),
// where the command prints only its final summary. Its own entry point
// (`@module-ingest/telemetry/progress`, no imports) so a CLI does not load pino for it.

export interface ProgressOptions {
  label: string
  total: number
  /** 'bytes' shows KiB/MiB…; anything else is a count's unit ('records', 'LSNs'). */
  unit: string
  stream?: NodeJS.WriteStream
  /** false: never draw (e.g. --no-progress, or an open-ended run). Default true. */
  enabled?: boolean
  /** Draw even when the stream is not a TTY (tests of the renderer). */
  force?: boolean
}

const kWidth = 28
const kRedrawMs = 100

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

/** `detail` is appended after the amount (e.g. `1234 delivered`). */
export function renderBar(
  label: string,
  done: number,
  total: number,
  unit: string,
  elapsedMs: number,
  detail = '',
): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1
  const filled = Math.round(frac * kWidth)
  const bar = '█'.repeat(filled) + '░'.repeat(kWidth - filled)
  const amount = unit === 'bytes' ? `${formatBytes(done)}/${formatBytes(total)}` : `${done}/${total} ${unit}`
  let eta = ''
  if (frac > 0 && frac < 1 && elapsedMs > 0) {
    const leftS = Math.round(((elapsedMs / frac) * (1 - frac)) / 1000)
    eta = `  ETA ${leftS >= 60 ? `${Math.floor(leftS / 60)}m${String(leftS % 60).padStart(2, '0')}s` : `${leftS}s`}`
  }
  return `${label} ${bar} ${String(Math.floor(frac * 100)).padStart(3)}%  ${amount}${detail ? `  ${detail}` : ''}${eta}`
}

export class Progress {
  #o: ProgressOptions
  #stream: NodeJS.WriteStream
  #on: boolean
  #start = Date.now()
  #lastDraw = 0
  #done = 0
  #detail = ''

  constructor(o: ProgressOptions) {
    this.#o = o
    this.#stream = o.stream ?? process.stderr
    this.#on = o.enabled !== false && (o.force === true || this.#stream.isTTY === true)
  }

  update(done: number, detail = ''): void {
    this.#done = done
    this.#detail = detail
    if (!this.#on) return
    const now = Date.now()
    if (now - this.#lastDraw < kRedrawMs) return
    this.#lastDraw = now
    this.#draw()
  }

  #draw(): void {
    const o = this.#o
    const line = renderBar(o.label, this.#done, o.total, o.unit, Date.now() - this.#start, this.#detail)
    this.#stream.write(`\r${line}\x1b[K`)
  }

  /** Draw the final state and end the line (the summary goes below it). */
  stop(): void {
    if (!this.#on) return
    this.#draw()
    this.#stream.write('\n')
  }
}
