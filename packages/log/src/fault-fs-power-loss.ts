// The power cut of FaultFs (fault-fs.ts): rewrite the tracked directories to one state a power cut
// may leave, from the durability model (fault-fs-model.ts). Per file: the synced bytes plus a
// random prefix of the later writes, the last one torn at a random byte or zero-filled; per
// directory: the synced entries plus a random prefix of the later entry changes.
import nodeFs from 'node:fs'
import path from 'node:path'
import { applyOp, type DurabilityModel, type FileNode } from './fault-fs-model.ts'

export interface PowerLossResult {
  files: number
  tornFiles: number
  droppedEntries: number
}

/**
 * Rewrite every tracked directory to a state a power cut may leave (see the header). All fds the
 * layer knows are forgotten (close them first: crash() the log). Returns what was lost or torn.
 */
export function powerLoss(model: DurabilityModel, rand: () => number): PowerLossResult {
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
    const st = model.dirs.get(dir)!
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
  for (const r of model.roots) materialize(r)
  model.dirs.clear()
  // After the cut the disk is all there is: it is the new durable baseline.
  for (const r of model.roots) model.snapshot(r)
  return { files: contents.size, tornFiles, droppedEntries }
}
