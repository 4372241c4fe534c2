// The writer's side of the durable watermark (see "Durable watermark" in index.ts): the 40 B
// `durable` file pwritten in place after every commit, and the same-process signal beside it.
import path from 'node:path'
import { publishDurable } from './durable-signal.ts'
import { fs } from './fsio.ts'
import { encodeWatermark, kWatermarkBytes, kWatermarkFile } from './meta.ts'

export interface WatermarkPosition {
  durableLsn: number
  segBase: number
  endOffset: number
}

export class WatermarkWriter {
  readonly fd: number
  readonly #buf = Buffer.alloc(kWatermarkBytes)

  constructor(dir: string, fileMode: number) {
    this.fd = fs.openSync(
      path.join(dir, kWatermarkFile),
      fs.constants.O_RDWR | fs.constants.O_CREAT,
      fileMode,
    )
  }

  /** Write the watermark file, then wake same-process waiters on `signal`. */
  publish(at: WatermarkPosition, signal: Int32Array): void {
    encodeWatermark({ ...at, epoch: process.pid }, this.#buf)
    try {
      fs.writeSync(this.fd, this.#buf, 0, kWatermarkBytes, 0)
    } catch {
      // Readers fall back to polling an older value; the next commit rewrites it.
    }
    // Same-process waiters (durable-signal.ts): readers given it re-read the file after waking.
    publishDurable(signal, at.durableLsn)
  }
}
