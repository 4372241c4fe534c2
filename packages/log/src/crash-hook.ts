// The writer's test hooks (exported from ./internal.ts): a crash like SIGKILL's, and the WriterIo
// seam for fault injection. After a crash the next openLog of the directory waits until the I/O
// the crashed writer had issued has completed (see LogImpl[kCrash] in log.ts).

export const kCrash = Symbol('mi.log.crash')
export const kIo = Symbol('mi.log.io')

/** Directories whose writer the crash hook stopped while its I/O was in flight. */
const settling = new Map<string, Promise<void>>()

/** Record that `dir`'s crashed writer finishes its in-flight I/O when `done` settles; returns it. */
export function crashSettling(dir: string, done: Promise<void>): Promise<void> {
  settling.set(dir, done)
  void done.then(() => {
    if (settling.get(dir) === done) settling.delete(dir)
  })
  return done
}

/** Resolves once a crashed writer of `dir` (if any) has no I/O in flight: openLog waits for it. */
export function crashSettled(dir: string): Promise<void> | undefined {
  return settling.get(dir)
}
