// The writer's I/O calls, in one object so that tests can inject ENOSPC/EIO (see test/unavailable.test.ts).
import fs from 'node:fs'
import { promisify } from 'node:util'

export interface WriterIo {
  writev(fd: number, buffers: Uint8Array[], position: number): Promise<number>
  fdatasync(fd: number): Promise<void>
  ftruncate(fd: number, len: number): Promise<void>
}

function writev(fd: number, buffers: Uint8Array[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, buffers as NodeJS.ArrayBufferView[], position, (err, n) => (err ? reject(err) : resolve(n)))
  })
}
const fdatasync = promisify(fs.fdatasync)
const ftruncate = promisify(fs.ftruncate)

export const realIo: WriterIo = {
  async writev(fd, buffers, position) {
    let total = 0
    for (const b of buffers) total += b.length
    let written = await writev(fd, buffers, position)
    if (written === total) return written
    // Short write (ENOSPC mid-way): retry the rest once so the kernel reports the real error.
    const all = Buffer.concat(buffers)
    while (written < total) {
      const n = await writev(fd, [all.subarray(written)], position + written)
      if (n === 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' })
      written += n
    }
    return written
  },
  fdatasync: (fd) => fdatasync(fd),
  ftruncate: (fd, len) => ftruncate(fd, len),
}
