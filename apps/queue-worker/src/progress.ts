import cliProgress from 'cli-progress'

export interface Progress {
  update(done: number, delivered: number): void
  stop(): void
}

/** A bar with ETA on stderr when it is a TTY and the run is finite; otherwise nothing. */
export function createProgress(total: number, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY || total <= 0) return { update() {}, stop() {} }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{bar} {percentage}% | {value}/{total} LSNs | {delivered} delivered | ETA {eta_formatted}',
      etaBuffer: 50,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(total, 0, { delivered: 0 })
  return {
    update: (done, delivered) => bar.update(Math.min(done, total), { delivered }),
    stop: () => bar.stop(),
  }
}
