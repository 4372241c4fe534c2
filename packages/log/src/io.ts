// The writer's I/O calls, in one object so that tests can inject ENOSPC/EIO (see test/unavailable.test.ts).
import fs from 'node:fs'
import { promisify } from 'node:util'

export interface WriterIo {
  writev(fd: number, buffers: Uint8Array[], position: number): Promise<number>
  fdatasync(fd: number): Promise<void>
  ftruncate(fd: number, len: number): Promise<void>
  /**
   * Blocking twins used by Log.commitSync(): the engine's writer worker exists only to write, so it
   * blocks in the syscalls itself instead of paying two libuv threadpool hops per group.
   */
  writevSync(fd: number, buffers: Uint8Array[], position: number): number
  fdatasyncSync(fd: number): void
}

function writev(fd: number, buffers: Uint8Array[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, buffers as NodeJS.ArrayBufferView[], position, (err, n) => (err ? reject(err) : resolve(n)))
  })
}
const fdatasync = promisify(fs.fdatasync)
const ftruncate = promisify(fs.ftruncate)

function totalBytes(buffers: Uint8Array[]): number {
  let total = 0
  for (const b of buffers) total += b.length
  return total
}

function shortWrite(): Error {
  return Object.assign(new Error('short write'), { code: 'ENOSPC' })
}

export const realIo: WriterIo = {
  async writev(fd, buffers, position) {
    const total = totalBytes(buffers)
    let written = await writev(fd, buffers, position)
    if (written === total) return written
    // Short write (ENOSPC mid-way): retry the rest once so the kernel reports the real error.
    const all = Buffer.concat(buffers)
    while (written < total) {
      const n = await writev(fd, [all.subarray(written)], position + written)
      if (n === 0) throw shortWrite()
      written += n
    }
    return written
  },
  fdatasync: (fd) => fdatasync(fd),
  ftruncate: (fd, len) => ftruncate(fd, len),
  writevSync(fd, buffers, position) {
    const total = totalBytes(buffers)
    let written = fs.writevSync(fd, buffers as NodeJS.ArrayBufferView[], position)
    if (written === total) return written
    // Short write: as in writev, retry the rest so the kernel reports the real error.
    const all = Buffer.concat(buffers)
    while (written < total) {
      const n = fs.writeSync(fd, all, written, total - written, position + written)
      if (n === 0) throw shortWrite()
      written += n
    }
    return written
  },
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
}
