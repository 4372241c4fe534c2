// Loaded into every AVA test process (see ava.config.base.mjs `require`).
//
// Why: AVA reports a file's results and then waits for its process to exit on its own. A test that
// leaks a handle (a reconnecting client, a child process, a server never closed) keeps that process
// alive, and AVA's inactivity timeout does not cover it: CI once sat there until its 90-minute
// limit. Once AVA is done with a file, give it a grace period to exit cleanly; past that, name what
// is still holding it open (so the leak gets fixed) and exit.
import process from 'node:process'
import { registerCompletionHandler } from 'ava'

const kGraceMs = 5000

registerCompletionHandler(() => {
  const timer = setTimeout(() => {
    const open = process.getActiveResourcesInfo()
    process.stderr.write(
      `\nava.exit-guard: a test process is still open ${kGraceMs} ms after its last test ` +
        `(cwd ${process.cwd()}; open: ${open.join(', ')}); a test leaks a handle. Exiting.\n`,
    )
    process.exit(process.exitCode ?? 0)
  }, kGraceMs)
  timer.unref()
})
