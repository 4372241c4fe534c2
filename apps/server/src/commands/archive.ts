import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ARCHIVE_READ_USAGE, archiveReadCommand } from '@module-ingest/subscriber-disk/cli'
import { Command } from 'commander'
import { configFromFlags, usageError } from '../common.ts'
import { MI_ERR_CLI_NOT_FOUND } from '../errors.ts'

/** `archive read`: the disk subscriber's own reader, with --dir defaulting to the configured archive. */
export function archiveCommand(): Command {
  const archive = new Command('archive').description("read the disk subscriber's archive")
  archive
    .command('read')
    .description('print archived records as NDJSON, oldest first (--help for the options)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]')
    .action(async (args: string[]) => {
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(archiveReadUsage())
        return
      }
      const rest = takeConfigFlags(args)
      const eq = rest.args.findIndex((a) => a.startsWith('--dir='))
      if (eq !== -1) rest.args.splice(eq, 1, '--dir', rest.args[eq]!.slice('--dir='.length))
      const given = rest.args.indexOf('--dir')
      if (given === -1) rest.args.push('--dir', defaultArchiveDir(rest.flags))
      // An archive that is not there is an error, not an empty archive: a typo must not look like "no records".
      const dir = rest.args[rest.args.indexOf('--dir') + 1]
      if (dir !== undefined && !existsSync(dir))
        throw new MI_ERR_CLI_NOT_FOUND(
          'archive directory',
          dir,
          given === -1
            ? 'the disk subscriber has archived nothing yet, or check --config/--data-dir'
            : 'check --dir',
        )
      try {
        await archiveReadCommand(rest.args) // resolves to the number of records printed
      } catch (err) {
        if ((err as { code?: string }).code === 'MI_ERR_DISK_CLI_ARGS')
          throw usageError((err as Error).message)
        throw err
      }
    })
  return archive
}

/** The disk reader's usage, as this command runs it: --dir is optional here (default: the config's archive). */
export function archiveReadUsage(): string {
  return `${ARCHIVE_READ_USAGE.replace('--dir <archive dir> [options]', '[--dir <archive dir>] [options]')
    .replace(/(--dir <path>\s+archive root \(the disk subscriber's options\.dir\))\s+required/, '$1')
    .trimEnd()}
  -c, --config <file> config file; without --dir, read the disk subscriber's archive it configures
  -d, --data-dir <dir> data directory (default archive: <dataDir>/archive)
`
}

function takeConfigFlags(args: string[]): { args: string[]; flags: { config?: string; dataDir?: string } } {
  const out: string[] = []
  const flags: { config?: string; dataDir?: string } = {}
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if ((a === '--config' || a === '-c') && i + 1 < args.length) flags.config = args[++i]!
    else if ((a === '--data-dir' || a === '-d') && i + 1 < args.length) flags.dataDir = args[++i]!
    else out.push(a)
  }
  return { args: out, flags }
}

function defaultArchiveDir(flags: { config?: string; dataDir?: string }): string {
  const config = configFromFlags(flags)
  const disk = config.subscribers.find((s) => s.use === 'disk')
  const dir = disk?.options.dir
  return typeof dir === 'string' ? dir : join(config.dataDir, 'archive')
}
