import { readFileSync } from 'node:fs'
import { errorLine } from '@module-ingest/errors'
import { Command, CommanderError } from 'commander'
import { dumpCommand } from './commands/dump.ts'
import { exportCommand } from './commands/export.ts'
import { inspectCommand } from './commands/inspect.ts'
import { repairCommand } from './commands/repair.ts'
import { verifyCommand } from './commands/verify.ts'
import { kExit } from './common.ts'

const kVersion = `module-ingest-recover-dump ${
  (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
    .version
} (node ${process.version})`

export function buildProgram(): Command {
  const program = new Command('module-ingest-recover-dump')
    .description(
      'Look at, check and repair a module-ingest log. Read-only except `repair --yes`.\n' +
        'Exit codes: 0 ok, 1 failure, 2 usage, 3 the log is damaged, 4 a live writer holds the log.',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  for (const make of [inspectCommand, dumpCommand, verifyCommand, repairCommand, exportCommand]) {
    program.addCommand(make().exitOverride().showHelpAfterError('(run with --help for usage)'))
  }
  // `--version` on the program and on every command (issue 12).
  for (const cmd of [program, ...program.commands]) cmd.version(kVersion, '-V, --version')
  return program
}

/** Run the CLI; resolves to the exit code. Errors print one line on stderr. */
export async function run(argv: string[]): Promise<number> {
  process.exitCode = undefined
  try {
    await buildProgram().parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : kExit.ok
  } catch (err) {
    // Help exits 0; commander already printed usage errors.
    if (err instanceof CommanderError) return err.exitCode === 0 ? kExit.ok : kExit.usage
    const e = err as Error & { code?: string }
    // Closed stdout (| head): the reader went away, not a failure of ours.
    if (e.code === 'EPIPE') return kExit.ok
    process.stderr.write(`${errorLine(e)}\n`)
    switch (e.code) {
      case 'MI_ERR_RECOVER_USAGE':
        return kExit.usage
      case 'MI_ERR_LOG_CORRUPT':
        return kExit.corrupt
      case 'MI_ERR_RECOVER_LOCKED':
      case 'MI_ERR_LOG_LOCKED':
        return kExit.locked
      default:
        return kExit.failure
    }
  }
}
