import { adminRequest, formatPretty } from '@module-ingest/telemetry'
import { Command } from 'commander'
import { type ConfigFlags, configFromFlags, configOptions, usageError } from '../common.ts'

export function logsCommand(): Command {
  return configOptions(new Command('logs'))
    .description("print a running server's recent log lines (its in-memory ring, via the admin socket)")
    .option('-n, --lines <n>', 'how many lines', '100')
    .option('--json', 'print the JSON lines as logged')
    .option('--socket <path>', 'admin socket (default telemetry.adminSocket)')
    .action(async (o: ConfigFlags & { lines: string; json?: boolean; socket?: string }) => {
      const n = Number(o.lines)
      if (!Number.isInteger(n) || n < 1) throw usageError('-n expects a positive integer')
      const socket = o.socket ?? configFromFlags(o).telemetry.adminSocket
      const lines = (await adminRequest(socket, 'logs', { n })) as string[]
      for (const line of lines) process.stdout.write(o.json ? `${line}\n` : formatPretty(line))
    })
}
