import { join } from 'node:path'
import { ARCHIVE_READ_USAGE, archiveReadCommand } from '@module-ingest/subscriber-disk/cli'
import { Command } from 'commander'
import { configFromFlags, usageError } from '../common.ts'

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
        process.stdout.write(
          `${ARCHIVE_READ_USAGE}\nWithout --dir: the archive of the disk subscriber in the config (--config/--data-dir/MI_*).\n`,
        )
        return
      }
      const rest = takeConfigFlags(args)
      if (!rest.args.includes('--dir')) rest.args.push('--dir', defaultArchiveDir(rest.flags))
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
