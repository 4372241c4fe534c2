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
import nodeFs from 'node:fs'
import path from 'node:path'
import type { FileLayer } from './fsio.ts'
import type { WriterIo } from './io.ts'

type Op = { kind: 'write'; pos: number; data: Buffer } | { kind: 'trunc'; len: number }

interface FileNode {
  kind: 'file'
  durable: Buffer
  ops: Op[]
}
interface DirNode {
  kind: 'dir'
  path: string
}
type Node = FileNode | DirNode
type DirOp = { name: string; node: Node | undefined }

interface DirState {
  durable: Map<string, Node>
  current: Map<string, Node>
  ops: DirOp[]
}

interface OpenFile {
  node: Node
  pos: number
}

export type FaultOp = 'write' | 'fdatasync' | 'fsync' | 'open' | 'rename' | 'ftruncate'

function applyOp(buf: Buffer, op: Op): Buffer {
  if (op.kind === 'trunc') {
    if (op.len <= buf.length) return buf.subarray(0, op.len)
    return Buffer.concat([buf, Buffer.alloc(op.len - buf.length)])
  }
  const end = op.pos + op.data.length
  const out = end > buf.length ? Buffer.concat([buf, Buffer.alloc(end - buf.length)]) : Buffer.from(buf)
  op.data.copy(out, op.pos)
  return out
}

function errno(code: string, syscall: string, p?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault, ${syscall}${p ? ` '${p}'` : ''}`), {
    code,
    syscall,
    path: p,
  })
}

export class FaultFs implements WriterIo {
  #dirs = new Map<string, DirState>()
  #fds = new Map<number, OpenFile>()
  #faults: { op: FaultOp; code: string }[] = []
  /** Counters for the test's report (how much the layer saw). */
  readonly counts = { writes: 0, syncs: 0, dirSyncs: 0, powerLosses: 0 }
  readonly roots: string[]

  constructor(...roots: string[]) {
    this.roots = roots.map((r) => path.resolve(r))
    for (const r of this.roots) this.#snapshot(r)
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

  // ---- model ----------------------------------------------------------------------------------

  #snapshot(dir: string): void {
    const st: DirState = { durable: new Map(), current: new Map(), ops: [] }
    this.#dirs.set(dir, st)
    for (const e of nodeFs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      let node: Node
      if (e.isDirectory()) {
        node = { kind: 'dir', path: p }
        this.#snapshot(p)
      } else node = { kind: 'file', durable: nodeFs.readFileSync(p), ops: [] }
      st.durable.set(e.name, node)
      st.current.set(e.name, node)
    }
  }

  #tracked(p: string): boolean {
    const abs = path.resolve(p)
    return this.roots.some((r) => abs === r || abs.startsWith(r + path.sep))
  }

  #dirOf(p: string): { st: DirState; name: string } | undefined {
    const abs = path.resolve(p)
    const st = this.#dirs.get(path.dirname(abs))
    return st ? { st, name: path.basename(abs) } : undefined
  }

  #setEntry(p: string, node: Node | undefined): void {
    const d = this.#dirOf(p)
    if (!d) return
    if (node) d.st.current.set(d.name, node)
    else d.st.current.delete(d.name)
    d.st.ops.push({ name: d.name, node })
  }

  #lookup(p: string): Node | undefined {
    const abs = path.resolve(p)
    if (this.#dirs.has(abs)) return { kind: 'dir', path: abs }
    return this.#dirOf(abs)?.st.current.get(path.basename(abs))
  }

  #syncFile(node: FileNode, upTo = node.ops.length): void {
    for (const op of node.ops.splice(0, upTo)) node.durable = applyOp(node.durable, op)
  }

  #syncDir(dir: string, upTo?: number): void {
    const st = this.#dirs.get(path.resolve(dir))
    if (!st) return
    for (const op of st.ops.splice(0, upTo ?? st.ops.length)) {
      if (op.node) st.durable.set(op.name, op.node)
      else st.durable.delete(op.name)
    }
  }

  #file(fd: number): OpenFile | undefined {
    return this.#fds.get(fd)
  }

  // ---- the layer (fsio.ts FileLayer) -----------------------------------------------------------

  readonly layer: FileLayer = {
    openSync: ((p: nodeFs.PathLike, flags: nodeFs.OpenMode = 'r', mode?: nodeFs.Mode) => {
      const file = String(p)
      if (!this.#tracked(file)) return nodeFs.openSync(p, flags, mode)
      this.#fault('open', file)
      const existed = nodeFs.existsSync(file)
      const fd = nodeFs.openSync(p, flags, mode)
      const f =
        typeof flags === 'number'
          ? {
              creat: (flags & nodeFs.constants.O_CREAT) !== 0,
              trunc: (flags & nodeFs.constants.O_TRUNC) !== 0,
            }
          : { creat: /[wa]/.test(flags), trunc: /w/.test(flags) }
      let node = this.#lookup(file)
      if (!node || (!existed && f.creat)) {
        node = { kind: 'file', durable: Buffer.alloc(0), ops: [] }
        this.#setEntry(file, node)
      } else if (node.kind === 'file' && f.trunc) node.ops.push({ kind: 'trunc', len: 0 })
      this.#fds.set(fd, { node, pos: 0 })
      return fd
    }) as typeof nodeFs.openSync,
    closeSync: (fd: number) => {
      this.#fds.delete(fd)
      nodeFs.closeSync(fd)
    },
    writeSync: ((fd: number, data: Uint8Array | string, a?: unknown, b?: unknown, c?: unknown) => {
      const of = this.#file(fd)
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
      this.#fault('write')
      const pos = position ?? of.pos
      const n = nodeFs.writeSync(fd, buf, 0, buf.length, pos)
      this.#record(of, pos, buf.subarray(0, n))
      return n
    }) as typeof nodeFs.writeSync,
    fdatasyncSync: (fd: number) => this.#syncFd(fd, 'fdatasync'),
    fsyncSync: (fd: number) => this.#syncFd(fd, 'fsync'),
    ftruncateSync: (fd: number, len?: number) => {
      const of = this.#file(fd)
      if (of) this.#fault('ftruncate')
      nodeFs.ftruncateSync(fd, len)
      if (of?.node.kind === 'file') of.node.ops.push({ kind: 'trunc', len: len ?? 0 })
    },
    renameSync: (a: nodeFs.PathLike, b: nodeFs.PathLike) => {
      if (this.#tracked(String(b))) this.#fault('rename', String(b))
      nodeFs.renameSync(a, b)
      const node = this.#lookup(String(a))
      if (!node || !this.#tracked(String(b))) return
      this.#setEntry(String(a), undefined)
      this.#setEntry(String(b), node)
    },
    linkSync: (a: nodeFs.PathLike, b: nodeFs.PathLike) => {
      nodeFs.linkSync(a, b)
      const node = this.#lookup(String(a))
      if (node) this.#setEntry(String(b), node)
    },
    rmSync: (p: nodeFs.PathLike, opts?: nodeFs.RmOptions) => {
      nodeFs.rmSync(p, opts)
      if (this.#lookup(String(p))) this.#setEntry(String(p), undefined)
    },
    unlinkSync: (p: nodeFs.PathLike) => {
      nodeFs.unlinkSync(p)
      if (this.#lookup(String(p))) this.#setEntry(String(p), undefined)
    },
    writeFileSync: ((
      p: nodeFs.PathOrFileDescriptor,
      data: string | Uint8Array,
      o?: nodeFs.WriteFileOptions,
    ) => {
      const fd = this.layer.openSync!(
        p as string,
        'w',
        typeof o === 'object' ? (o?.mode ?? undefined) : undefined,
      )
      try {
        this.layer.writeSync!(fd, typeof data === 'string' ? Buffer.from(data) : data, 0, data.length, 0)
      } finally {
        this.layer.closeSync!(fd)
      }
    }) as typeof nodeFs.writeFileSync,
    mkdirSync: ((p: nodeFs.PathLike, opts?: nodeFs.MakeDirectoryOptions) => {
      const abs = path.resolve(String(p))
      const existed = nodeFs.existsSync(abs)
      const r = nodeFs.mkdirSync(p, opts)
      if (!existed && this.#tracked(abs) && this.#dirs.has(path.dirname(abs))) {
        this.#dirs.set(abs, { durable: new Map(), current: new Map(), ops: [] })
        this.#setEntry(abs, { kind: 'dir', path: abs })
      }
      return r
    }) as typeof nodeFs.mkdirSync,
    // Callback forms: the same operations, completed on a later turn like real I/O.
    open: ((
      p: nodeFs.PathLike,
      flags: nodeFs.OpenMode,
      mode: nodeFs.Mode,
      cb: (e: Error | null, fd?: number) => void,
    ) => this.#later(() => this.layer.openSync!(p, flags, mode), cb)) as unknown as typeof nodeFs.open,
    close: ((fd: number, cb: (e: Error | null) => void) =>
      this.#later(() => this.layer.closeSync!(fd), cb)) as unknown as typeof nodeFs.close,
    write: ((
      fd: number,
      b: Uint8Array,
      off: number,
      len: number,
      pos: number,
      cb: (e: Error | null, n?: number) => void,
    ) =>
      this.#later(() => this.layer.writeSync!(fd, b, off, len, pos), cb)) as unknown as typeof nodeFs.write,
    fsync: ((fd: number, cb: (e: Error | null) => void) =>
      this.#syncLater(fd, 'fsync', cb)) as typeof nodeFs.fsync,
    fdatasync: ((fd: number, cb: (e: Error | null) => void) =>
      this.#syncLater(fd, 'fdatasync', cb)) as typeof nodeFs.fdatasync,
    ftruncate: ((fd: number, len: number, cb: (e: Error | null) => void) =>
      this.#later(() => this.layer.ftruncateSync!(fd, len), cb)) as unknown as typeof nodeFs.ftruncate,
    rename: ((a: nodeFs.PathLike, b: nodeFs.PathLike, cb: (e: Error | null) => void) =>
      this.#later(() => this.layer.renameSync!(a, b), cb)) as typeof nodeFs.rename,
    rm: ((p: nodeFs.PathLike, opts: nodeFs.RmOptions, cb: (e: Error | null) => void) =>
      this.#later(() => this.layer.rmSync!(p, opts), cb)) as typeof nodeFs.rm,
    mkdir: ((
      p: nodeFs.PathLike,
      opts: nodeFs.MakeDirectoryOptions,
      cb: (e: Error | null, p?: string) => void,
    ) =>
      this.#later<string | undefined>(
        () => this.layer.mkdirSync!(p, opts),
        cb,
      )) as unknown as typeof nodeFs.mkdir,
  }

  #later<T>(fn: () => T, cb: (e: Error | null, v?: T) => void): void {
    let v: T
    try {
      v = fn()
    } catch (err) {
      setImmediate(() => cb(err as Error))
      return
    }
    setImmediate(() => cb(null, v))
  }

  #record(of: OpenFile, pos: number, data: Buffer): void {
    this.counts.writes++
    if (of.node.kind !== 'file') return
    of.node.ops.push({ kind: 'write', pos, data: Buffer.from(data) })
    of.pos = pos + data.length
  }

  #syncFd(fd: number, op: 'fsync' | 'fdatasync'): void {
    const of = this.#file(fd)
    if (!of) return op === 'fsync' ? nodeFs.fsyncSync(fd) : nodeFs.fdatasyncSync(fd)
    this.#fault(op)
    if (of.node.kind === 'dir') {
      this.counts.dirSyncs++
      this.#syncDir(of.node.path)
    } else {
      this.counts.syncs++
      this.#syncFile(of.node)
    }
  }

  /** An fdatasync covers what was written before it was called, and completes a turn later. */
  #syncLater(fd: number, op: 'fsync' | 'fdatasync', cb: (e: Error | null) => void): void {
    const of = this.#file(fd)
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
    const upTo = node.kind === 'file' ? node.ops.length : (this.#dirs.get(node.path)?.ops.length ?? 0)
    setImmediate(() => {
      if (node.kind === 'dir') {
        this.counts.dirSyncs++
        this.#syncDir(node.path, upTo)
      } else {
        this.counts.syncs++
        this.#syncFile(node, upTo)
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
   * Rewrite every tracked directory to a state a power cut may leave (see the header). All fds the
   * layer knows are forgotten (close them first: crash() the log). Returns what was lost or torn.
   */
  powerLoss(rand: () => number = Math.random): { files: number; tornFiles: number; droppedEntries: number } {
    this.counts.powerLosses++
    let tornFiles = 0
    let droppedEntries = 0
    const contents = new Map<FileNode, Buffer>()
    const fileState = (node: FileNode): Buffer => {
      let buf = contents.get(node)
      if (buf) return buf
      buf = node.durable
      const n = node.ops.length
      if (n > 0) {
        const r = rand()
        // 1/3: nothing unsynced reached the disk; 1/3: all of it; 1/3: a prefix, the last op torn.
        const keep = r < 1 / 3 ? 0 : r < 2 / 3 ? n : Math.floor(rand() * n)
        for (let i = 0; i < keep; i++) buf = applyOp(buf, node.ops[i]!)
        if (keep < n && r >= 2 / 3) {
          const op = node.ops[keep]!
          if (op.kind === 'write') {
            const cut = Math.floor(rand() * op.data.length)
            const zero = rand() < 0.3
            const part = zero ? Buffer.alloc(op.data.length) : op.data.subarray(0, cut)
            buf = applyOp(buf, { kind: 'write', pos: op.pos, data: part })
          }
        }
        if (keep < n) tornFiles++
      }
      contents.set(node, buf)
      return buf
    }
    const materialize = (dir: string): void => {
      const st = this.#dirs.get(dir)!
      const final = new Map(st.durable)
      const n = st.ops.length
      const keep = n === 0 ? 0 : rand() < 0.5 ? n : Math.floor(rand() * (n + 1))
      for (let i = 0; i < keep; i++) {
        const op = st.ops[i]!
        if (op.node) final.set(op.name, op.node)
        else final.delete(op.name)
      }
      droppedEntries += n - keep
      for (const name of nodeFs.readdirSync(dir)) {
        if (!final.has(name)) nodeFs.rmSync(path.join(dir, name), { recursive: true, force: true })
      }
      for (const [name, node] of final) {
        const p = path.join(dir, name)
        if (node.kind === 'dir') {
          nodeFs.mkdirSync(p, { recursive: true })
          materialize(node.path === p ? p : node.path)
        } else {
          nodeFs.rmSync(p, { recursive: true, force: true })
          nodeFs.writeFileSync(p, fileState(node))
        }
      }
    }
    for (const r of this.roots) materialize(r)
    this.#fds.clear()
    this.#dirs.clear()
    // After the cut the disk is all there is: it is the new durable baseline.
    for (const r of this.roots) this.#snapshot(r)
    return { files: contents.size, tornFiles, droppedEntries }
  }
}
