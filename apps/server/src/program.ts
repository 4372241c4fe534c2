import { errorLine } from '@module-ingest/errors'
import { Command, CommanderError } from 'commander'
import { archiveCommand } from './commands/archive.ts'
import { checkCommand } from './commands/check.ts'
import { completionCommand } from './commands/completion.ts'
import { kvCommand } from './commands/kv.ts'
import { logsCommand } from './commands/logs.ts'
import { indexCommand, queryCommand } from './commands/query.ts'
import { sendCommand } from './commands/send.ts'
import { serveCommand } from './commands/serve.ts'
import { statsCommand } from './commands/stats.ts'
import { tailCommand } from './commands/tail.ts'
import { tokenCommand } from './commands/token.ts'
import { topCommand } from './commands/top.ts'
import { kExit } from './common.ts'
import { addVersionEverywhere } from './version.ts'

export function buildProgram(): Command {
  const program = new Command('module-ingest')
    .description('Durable TCP telemetry ingestion: MIP/1 in, segmented log, pluggable subscribers out.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  for (const make of [
    serveCommand,
    tokenCommand,
    statsCommand,
    logsCommand,
    sendCommand,
    tailCommand,
    archiveCommand,
    completionCommand,
    checkCommand,
    queryCommand,
    indexCommand,
    kvCommand,
    topCommand,
  ]) {
    program.addCommand(make())
  }
  // addCommand() does not pass settings down (only .command() does): apply them to every level.
  const inherit = (cmd: Command) => {
    for (const sub of cmd.commands) {
      sub.exitOverride().showHelpAfterError('(run with --help for usage)')
      inherit(sub)
    }
  }
  inherit(program)
  addVersionEverywhere(program)
  return program
}

/** Run the CLI; resolves to the process exit code. Errors print one clear line on stderr. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : kExit.ok
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; commander already printed usage errors.
      return err.exitCode === 0 ? kExit.ok : kExit.usage
    }
    const e = err as Error & { code?: string }
    process.stderr.write(`${errorLine(e)}\n`)
    if (
      e.code?.startsWith('MI_ERR_CONFIG') ||
      e.code === 'MI_ERR_CLI_USAGE' ||
      e.code === 'MI_ERR_AUTH_OPTION_INVALID'
    )
      return kExit.usage
    return kExit.failure
  }
}
