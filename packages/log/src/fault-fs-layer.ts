// FaultFs's file layer (fsio.ts FileLayer): the node:fs calls the log makes, done for real on
// the real files and recorded in the durability model (fault-fs-model.ts) when under a tracked
// root; each may fail with an injected errno first (FaultFs.failNext).
import nodeFs from 'node:fs'
import path from 'node:path'
import type { FaultOp } from './fault-fs.ts'
import type { DurabilityModel, OpenFile } from './fault-fs-model.ts'
import type { FileLayer } from './fsio.ts'

/** What the layer needs of its FaultFs. */
export interface LayerHost {
  readonly model: DurabilityModel
  readonly fds: Map<number, OpenFile>
  fault(op: FaultOp, path?: string): void
  record(of: OpenFile, pos: number, data: Buffer): void
  syncFd(fd: number, op: 'fsync' | 'fdatasync'): void
  syncLater(fd: number, op: 'fsync' | 'fdatasync', cb: (e: Error | null) => void): void
}

export function faultFileLayer(h: LayerHost): FileLayer {
  const layer: FileLayer = {
    openSync: ((p: nodeFs.PathLike, flags: nodeFs.OpenMode = 'r', mode?: nodeFs.Mode) => {
      const file = String(p)
      if (!h.model.tracked(file)) return nodeFs.openSync(p, flags, mode)
      h.fault('open', file)
      const existed = nodeFs.existsSync(file)
      const fd = nodeFs.openSync(p, flags, mode)
      const f =
        typeof flags === 'number'
          ? {
              creat: (flags & nodeFs.constants.O_CREAT) !== 0,
              trunc: (flags & nodeFs.constants.O_TRUNC) !== 0,
            }
          : { creat: /[wa]/.test(flags), trunc: /w/.test(flags) }
      let node = h.model.lookup(file)
      if (!node || (!existed && f.creat)) {
        node = { kind: 'file', durable: Buffer.alloc(0), ops: [] }
        h.model.setEntry(file, node)
      } else if (node.kind === 'file' && f.trunc) node.ops.push({ kind: 'trunc', len: 0 })
      h.fds.set(fd, { node, pos: 0 })
      return fd
    }) as typeof nodeFs.openSync,
    closeSync: (fd: number) => {
      h.fds.delete(fd)
      nodeFs.closeSync(fd)
    },
    writeSync: ((fd: number, data: Uint8Array | string, a?: unknown, b?: unknown, c?: unknown) => {
      const of = h.fds.get(fd)
      let buf: Buffer
      let position: number | null | undefined
      if (typeof data === 'string') {
        buf = Buffer.from(data, typeof b === 'string' ? (b as BufferEncoding) : 'utf8')
        position = typeof a === 'number' ? a : null
      } else {
        const off = typeof a === 'number' ? a : 0
        const len = typeof b === 'number' ? b : data.byteLength - off
        buf = Buffer.from(data.buffer, data.byteOffset + off, len)
        position = typeof c === 'number' ? c : null
      }
      if (!of) return nodeFs.writeSync(fd, buf, 0, buf.length, position)
      h.fault('write')
      const pos = position ?? of.pos
      const n = nodeFs.writeSync(fd, buf, 0, buf.length, pos)
      h.record(of, pos, buf.subarray(0, n))
      return n
    }) as typeof nodeFs.writeSync,
    fdatasyncSync: (fd: number) => h.syncFd(fd, 'fdatasync'),
    fsyncSync: (fd: number) => h.syncFd(fd, 'fsync'),
    ftruncateSync: (fd: number, len?: number) => {
      const of = h.fds.get(fd)
      if (of) h.fault('ftruncate')
      nodeFs.ftruncateSync(fd, len)
      if (of?.node.kind === 'file') of.node.ops.push({ kind: 'trunc', len: len ?? 0 })
    },
    renameSync: (a: nodeFs.PathLike, b: nodeFs.PathLike) => {
      if (h.model.tracked(String(b))) h.fault('rename', String(b))
      nodeFs.renameSync(a, b)
      const node = h.model.lookup(String(a))
      if (!node || !h.model.tracked(String(b))) return
      h.model.setEntry(String(a), undefined)
      h.model.setEntry(String(b), node)
    },
    linkSync: (a: nodeFs.PathLike, b: nodeFs.PathLike) => {
      nodeFs.linkSync(a, b)
      const node = h.model.lookup(String(a))
      if (node) h.model.setEntry(String(b), node)
    },
    rmSync: (p: nodeFs.PathLike, opts?: nodeFs.RmOptions) => {
      nodeFs.rmSync(p, opts)
      if (h.model.lookup(String(p))) h.model.setEntry(String(p), undefined)
    },
    unlinkSync: (p: nodeFs.PathLike) => {
      nodeFs.unlinkSync(p)
      if (h.model.lookup(String(p))) h.model.setEntry(String(p), undefined)
    },
    writeFileSync: ((
      p: nodeFs.PathOrFileDescriptor,
      data: string | Uint8Array,
      o?: nodeFs.WriteFileOptions,
    ) => {
      const fd = layer.openSync!(p as string, 'w', typeof o === 'object' ? (o?.mode ?? undefined) : undefined)
      try {
        layer.writeSync!(fd, typeof data === 'string' ? Buffer.from(data) : data, 0, data.length, 0)
      } finally {
        layer.closeSync!(fd)
      }
    }) as typeof nodeFs.writeFileSync,
    mkdirSync: ((p: nodeFs.PathLike, opts?: nodeFs.MakeDirectoryOptions) => {
      const abs = path.resolve(String(p))
      const existed = nodeFs.existsSync(abs)
      const r = nodeFs.mkdirSync(p, opts)
      if (!existed && h.model.tracked(abs) && h.model.dirs.has(path.dirname(abs))) {
        h.model.dirs.set(abs, { durable: new Map(), current: new Map(), ops: [] })
        h.model.setEntry(abs, { kind: 'dir', path: abs })
      }
      return r
    }) as typeof nodeFs.mkdirSync,
    // Callback forms: the same operations, completed on a later turn like real I/O.
    open: ((
      p: nodeFs.PathLike,
      flags: nodeFs.OpenMode,
      mode: nodeFs.Mode,
      cb: (e: Error | null, fd?: number) => void,
    ) => later(() => layer.openSync!(p, flags, mode), cb)) as unknown as typeof nodeFs.open,
    close: ((fd: number, cb: (e: Error | null) => void) =>
      later(() => layer.closeSync!(fd), cb)) as unknown as typeof nodeFs.close,
    write: ((
      fd: number,
      b: Uint8Array,
      off: number,
      len: number,
      pos: number,
      cb: (e: Error | null, n?: number) => void,
    ) => later(() => layer.writeSync!(fd, b, off, len, pos), cb)) as unknown as typeof nodeFs.write,
    fsync: ((fd: number, cb: (e: Error | null) => void) =>
      h.syncLater(fd, 'fsync', cb)) as typeof nodeFs.fsync,
    fdatasync: ((fd: number, cb: (e: Error | null) => void) =>
      h.syncLater(fd, 'fdatasync', cb)) as typeof nodeFs.fdatasync,
    ftruncate: ((fd: number, len: number, cb: (e: Error | null) => void) =>
      later(() => layer.ftruncateSync!(fd, len), cb)) as unknown as typeof nodeFs.ftruncate,
    rename: ((a: nodeFs.PathLike, b: nodeFs.PathLike, cb: (e: Error | null) => void) =>
      later(() => layer.renameSync!(a, b), cb)) as typeof nodeFs.rename,
    rm: ((p: nodeFs.PathLike, opts: nodeFs.RmOptions, cb: (e: Error | null) => void) =>
      later(() => layer.rmSync!(p, opts), cb)) as typeof nodeFs.rm,
    mkdir: ((
      p: nodeFs.PathLike,
      opts: nodeFs.MakeDirectoryOptions,
      cb: (e: Error | null, p?: string) => void,
    ) => later<string | undefined>(() => layer.mkdirSync!(p, opts), cb)) as unknown as typeof nodeFs.mkdir,
  }
  return layer
}

function later<T>(fn: () => T, cb: (e: Error | null, v?: T) => void): void {
  let v: T
  try {
    v = fn()
  } catch (err) {
    setImmediate(() => cb(err as Error))
    return
  }
  setImmediate(() => cb(null, v))
}
