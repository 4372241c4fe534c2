// A fault-injecting file layer for tests: what a power cut leaves on disk, not what SIGKILL leaves.
//
// Installed with `setFileLayer(ffs.layer)` (fsio.ts) and `setIo(log, ffs)` (the writer's WriterIo),
// every write of the log goes through it. Writes reach the real files at once (readers see the
// page cache, as on a real OS), and the layer keeps, per file, the bytes covered by a completed
// fdatasync/fsync and the list of writes since; per directory, the entries covered by a completed
// fsync of that directory and the entry changes (create, rename, link, unlink) since.
//
// `powerLoss(rand)` then rewrites the tracked directories to one state a power cut may leave:
// per file, the synced bytes plus a random prefix of the later writes in order, the last one torn
// at a random byte (or zero-filled: the size reached the disk, the data did not); per directory,
// the synced entries plus a random prefix of the later entry changes. Nothing that a completed
// fdatasync (and, for new names, a completed fsync of the directory) covered is ever lost. An
// fdatasync covers only the writes issued before it was called: writes made while it runs are
// not covered by it (the model of the group commit's overlapping writes).
//
// `failNext(op, code)` makes the next call of `op` fail with an errno (ENOSPC, EIO) instead.
//
// The parts: this file (FaultFs: injected faults, syncs, the writer's WriterIo), fault-fs-layer.ts
// (the node:fs calls of fsio.ts), fault-fs-model.ts (what a completed sync covers) and
// fault-fs-power-loss.ts (the cut itself).
import nodeFs from 'node:fs'
import { faultFileLayer } from './fault-fs-layer.ts'
import { DurabilityModel, type OpenFile } from './fault-fs-model.ts'
import { type PowerLossResult, powerLoss } from './fault-fs-power-loss.ts'
import type { FileLayer } from './fsio.ts'
import type { WriterIo } from './io.ts'

export type FaultOp = 'write' | 'fdatasync' | 'fsync' | 'open' | 'rename' | 'ftruncate'

function errno(code: string, syscall: string, p?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault, ${syscall}${p ? ` '${p}'` : ''}`), {
    code,
    syscall,
    path: p,
  })
}

export class FaultFs implements WriterIo {
  readonly #model: DurabilityModel
  #fds = new Map<number, OpenFile>()
  #faults: { op: FaultOp; code: string }[] = []
  /** Counters for the test's report (how much the layer saw). */
  readonly counts = { writes: 0, syncs: 0, dirSyncs: 0, powerLosses: 0 }
  readonly roots: string[]
  readonly layer: FileLayer

  constructor(...roots: string[]) {
    this.#model = new DurabilityModel(roots)
    this.roots = this.#model.roots
    this.layer = faultFileLayer({
      model: this.#model,
      fds: this.#fds,
      fault: (op, p) => this.#fault(op, p),
      record: (of, pos, data) => this.#record(of, pos, data),
      syncFd: (fd, op) => this.#syncFd(fd, op),
      syncLater: (fd, op, cb) => this.#syncLater(fd, op, cb),
    })
  }

  /** The next call of `op` throws `code` (one shot). */
  failNext(op: FaultOp, code = 'ENOSPC'): void {
    this.#faults.push({ op, code })
  }

  #fault(op: FaultOp, p?: string): void {
    const i = this.#faults.findIndex((f) => f.op === op)
    if (i < 0) return
    const [f] = this.#faults.splice(i, 1)
    throw errno(f!.code, op, p)
  }

  #record(of: OpenFile, pos: number, data: Buffer): void {
    this.counts.writes++
    if (of.node.kind !== 'file') return
    of.node.ops.push({ kind: 'write', pos, data: Buffer.from(data) })
    of.pos = pos + data.length
  }

  #syncFd(fd: number, op: 'fsync' | 'fdatasync'): void {
    const of = this.#fds.get(fd)
    if (!of) return op === 'fsync' ? nodeFs.fsyncSync(fd) : nodeFs.fdatasyncSync(fd)
    this.#fault(op)
    if (of.node.kind === 'dir') {
      this.counts.dirSyncs++
      this.#model.syncDir(of.node.path)
    } else {
      this.counts.syncs++
      this.#model.syncFile(of.node)
    }
  }

  /** An fdatasync covers what was written before it was called, and completes a turn later. */
  #syncLater(fd: number, op: 'fsync' | 'fdatasync', cb: (e: Error | null) => void): void {
    const of = this.#fds.get(fd)
    if (!of) {
      ;(op === 'fsync' ? nodeFs.fsync : nodeFs.fdatasync)(fd, cb)
      return
    }
    try {
      this.#fault(op)
    } catch (err) {
      setImmediate(() => cb(err as Error))
      return
    }
    const node = of.node
    const upTo = node.kind === 'file' ? node.ops.length : (this.#model.dirs.get(node.path)?.ops.length ?? 0)
    setImmediate(() => {
      if (node.kind === 'dir') {
        this.counts.dirSyncs++
        this.#model.syncDir(node.path, upTo)
      } else {
        this.counts.syncs++
        this.#model.syncFile(node, upTo)
      }
      cb(null)
    })
  }

  // ---- WriterIo (the writer's data path: log.ts #io) -------------------------------------------

  async writev(fd: number, buffers: Uint8Array[], position: number): Promise<number> {
    await new Promise<void>((r) => setImmediate(r))
    return this.writevSync(fd, buffers, position)
  }
  writevSync(fd: number, buffers: Uint8Array[], position: number): number {
    const all = Buffer.concat(buffers)
    return this.layer.writeSync!(fd, all, 0, all.length, position)
  }
  fdatasync(fd: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#syncLater(fd, 'fdatasync', (e) => (e ? reject(e) : resolve())),
    )
  }
  fdatasyncSync(fd: number): void {
    this.#syncFd(fd, 'fdatasync')
  }
  async ftruncate(fd: number, len: number): Promise<void> {
    await new Promise<void>((r) => setImmediate(r))
    this.layer.ftruncateSync!(fd, len)
  }

  // ---- the power cut ---------------------------------------------------------------------------

  /**
   * Rewrite every tracked directory to a state a power cut may leave (see the header and
   * fault-fs-power-loss.ts). All fds the layer knows are forgotten (close them first: crash() the
   * log). Returns what was lost or torn.
   */
  powerLoss(rand: () => number = Math.random): PowerLossResult {
    this.counts.powerLosses++
    this.#fds.clear()
    return powerLoss(this.#model, rand)
  }
}
