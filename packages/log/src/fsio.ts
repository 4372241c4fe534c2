// The log's file-system seam. Every file the log creates, writes, syncs, renames or removes goes
// through `fs` from this module instead of `node:fs`, so that a test can install a layer that
// models what survives a power cut (fault-fs.ts) under the writer, recovery, the metadata files,
// the lock and the repair tools. Reads go straight to node:fs (they see what the OS sees).
//
// Without an installed layer every call is node:fs itself; the Proxy costs one property lookup.
import nodeFs from 'node:fs'

/** The calls a layer may take over; anything it does not define falls through to node:fs. */
export type FileLayer = Partial<
  Pick<
    typeof nodeFs,
    | 'openSync'
    | 'closeSync'
    | 'writeSync'
    | 'fdatasyncSync'
    | 'fsyncSync'
    | 'ftruncateSync'
    | 'renameSync'
    | 'rmSync'
    | 'unlinkSync'
    | 'linkSync'
    | 'writeFileSync'
    | 'mkdirSync'
    | 'open'
    | 'close'
    | 'write'
    | 'fsync'
    | 'fdatasync'
    | 'ftruncate'
    | 'rename'
    | 'rm'
    | 'mkdir'
  >
>

let layer: FileLayer | undefined

/** Test hook (internal.ts): route the log's file writes through `l`; `undefined` restores node:fs. */
export function setFileLayer(l: FileLayer | undefined): void {
  layer = l
}

export const fs: typeof nodeFs = new Proxy(nodeFs, {
  get(target, key) {
    const own = layer as Record<PropertyKey, unknown> | undefined
    if (own && key in own) return own[key]
    return Reflect.get(target, key)
  },
})

function call<T>(fn: (...args: never[]) => void, ...args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    ;(fn as (...a: unknown[]) => void)(...args, (err: Error | null, v: T) => (err ? reject(err) : resolve(v)))
  })
}

/** Promise forms over the (possibly layered) callback API: resolved at call time, never cached. */
export const afs = {
  open: (p: string, flags: string | number, mode = 0o644): Promise<number> => call(fs.open, p, flags, mode),
  close: (fd: number): Promise<void> => call(fs.close, fd),
  write: (fd: number, b: Uint8Array, position: number): Promise<number> =>
    call(fs.write, fd, b, 0, b.length, position),
  fsync: (fd: number): Promise<void> => call(fs.fsync, fd),
  fdatasync: (fd: number): Promise<void> => call(fs.fdatasync, fd),
  rename: (a: string, b: string): Promise<void> => call(fs.rename, a, b),
  rm: (p: string, opts: nodeFs.RmOptions = {}): Promise<void> => call(fs.rm, p, opts),
  mkdir: (p: string, opts: nodeFs.MakeDirectoryOptions = {}): Promise<string | undefined> =>
    call(fs.mkdir, p, opts),
}
