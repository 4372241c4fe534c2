// The durability model under FaultFs (fault-fs.ts): per file, the bytes a completed fdatasync/fsync
// covered and the writes since; per directory, the entries a completed fsync of the directory
// covered and the entry changes (create, rename, link, unlink) since. powerLoss (fault-fs-power-loss.ts)
// picks what of the uncovered part survives.
import nodeFs from 'node:fs'
import path from 'node:path'

export type Op = { kind: 'write'; pos: number; data: Buffer } | { kind: 'trunc'; len: number }

export interface FileNode {
  kind: 'file'
  durable: Buffer
  ops: Op[]
}
export interface DirNode {
  kind: 'dir'
  path: string
}
export type Node = FileNode | DirNode
export type DirOp = { name: string; node: Node | undefined }

export interface DirState {
  durable: Map<string, Node>
  current: Map<string, Node>
  ops: DirOp[]
}

export interface OpenFile {
  node: Node
  pos: number
}

export function applyOp(buf: Buffer, op: Op): Buffer {
  if (op.kind === 'trunc') {
    if (op.len <= buf.length) return buf.subarray(0, op.len)
    return Buffer.concat([buf, Buffer.alloc(op.len - buf.length)])
  }
  const end = op.pos + op.data.length
  const out = end > buf.length ? Buffer.concat([buf, Buffer.alloc(end - buf.length)]) : Buffer.from(buf)
  op.data.copy(out, op.pos)
  return out
}

/** The tracked directory trees: what is durable, what is current, and the changes between. */
export class DurabilityModel {
  readonly dirs = new Map<string, DirState>()
  readonly roots: string[]

  constructor(roots: string[]) {
    this.roots = roots.map((r) => path.resolve(r))
    for (const r of this.roots) this.snapshot(r)
  }

  /** Take `dir` (recursively) as it is on disk as durable. */
  snapshot(dir: string): void {
    const st: DirState = { durable: new Map(), current: new Map(), ops: [] }
    this.dirs.set(dir, st)
    for (const e of nodeFs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      let node: Node
      if (e.isDirectory()) {
        node = { kind: 'dir', path: p }
        this.snapshot(p)
      } else node = { kind: 'file', durable: nodeFs.readFileSync(p), ops: [] }
      st.durable.set(e.name, node)
      st.current.set(e.name, node)
    }
  }

  tracked(p: string): boolean {
    const abs = path.resolve(p)
    return this.roots.some((r) => abs === r || abs.startsWith(r + path.sep))
  }

  dirOf(p: string): { st: DirState; name: string } | undefined {
    const abs = path.resolve(p)
    const st = this.dirs.get(path.dirname(abs))
    return st ? { st, name: path.basename(abs) } : undefined
  }

  setEntry(p: string, node: Node | undefined): void {
    const d = this.dirOf(p)
    if (!d) return
    if (node) d.st.current.set(d.name, node)
    else d.st.current.delete(d.name)
    d.st.ops.push({ name: d.name, node })
  }

  lookup(p: string): Node | undefined {
    const abs = path.resolve(p)
    if (this.dirs.has(abs)) return { kind: 'dir', path: abs }
    return this.dirOf(abs)?.st.current.get(path.basename(abs))
  }

  syncFile(node: FileNode, upTo = node.ops.length): void {
    for (const op of node.ops.splice(0, upTo)) node.durable = applyOp(node.durable, op)
  }

  syncDir(dir: string, upTo?: number): void {
    const st = this.dirs.get(path.resolve(dir))
    if (!st) return
    for (const op of st.ops.splice(0, upTo ?? st.ops.length)) {
      if (op.node) st.durable.set(op.name, op.node)
      else st.durable.delete(op.name)
    }
  }
}
