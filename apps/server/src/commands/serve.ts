import { errorLine } from '@module-ingest/errors'
import { createLogger, type Logger } from '@module-ingest/telemetry'
import { Command } from 'commander'
import { type ConfigFlags, configFromFlags, configOptions, kExit } from '../common.ts'
import { MI_ERR_SERVER_START_FAILED } from '../errors.ts'
import { type Server, startServer } from '../server.ts'

export function serveCommand(): Command {
  return configOptions(new Command('serve'))
    .description('run the ingest server (SIGTERM/SIGINT: graceful shutdown; a second signal: exit at once)')
    .option('-l, --listen <host:port>', 'MIP/1 listen address (overrides config listen)')
    .option('--log-level <level>', 'trace | debug | info | warn | error | fatal | silent')
    .option('--set <key=value...>', 'any setting by dotted path, e.g. --set limits.maxConnections=100')
    .option('--pretty', 'human-readable logs on stdout')
    .action(async (opts: ConfigFlags & { pretty?: boolean }) => {
      const config = configFromFlags(opts)
      let logger: Logger
      try {
        logger = createLogger({
          level: config.telemetry.logLevel,
          ...(config.telemetry.logFile ? { file: config.telemetry.logFile } : {}),
          pretty: opts.pretty ?? false,
          memoryLines: config.telemetry.memoryLogLines,
        })
      } catch (err) {
        const e = new MI_ERR_SERVER_START_FAILED(
          `the log file ${config.telemetry.logFile}`,
          (err as Error).message,
        )
        process.stderr.write(`${errorLine(e)}\n`)
        return process.exit(kExit.failure)
      }
      const exitNow = (code: number): never => {
        logger.flush()
        process.exit(code)
      }

      // Signals are handled from before startup: a SIGTERM while the server starts still shuts it
      // down gracefully once it is up, instead of killing it halfway through recovery.
      let signals = 0
      let backstop: NodeJS.Timeout | undefined
      let requestStop: (signal: NodeJS.Signals) => void = () => {}
      const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
        requestStop = resolve
      })
      const onSignal = (signal: NodeJS.Signals) => {
        if (++signals > 1) {
          logger.warn({ event: 'ServerShutdownForced', signal }, 'second signal: exiting now')
          exitNow(kExit.interrupted)
        }
        logger.info({ event: 'ServerSignalReceived', signal }, `${signal}: shutting down gracefully`)
        // The engine bounds its drain by shutdown.gracefulTimeoutMs; this timer is the backstop,
        // armed at the signal so that a startup that never completes cannot hang the process.
        backstop = setTimeout(() => {
          logger.error({ event: 'ServerShutdownTimedOut' }, 'graceful shutdown timed out')
          exitNow(kExit.failure)
        }, config.shutdown.gracefulTimeoutMs + 5000)
        backstop.unref()
        requestStop(signal)
      }
      process.on('SIGTERM', onSignal)
      process.on('SIGINT', onSignal)

      let server: Server
      try {
        server = await startServer(config, {
          logger,
          // A dead data-path worker: exit non-zero so a supervisor restarts us; the log recovers.
          onFatal: () => exitNow(kExit.failure),
          onDevCredential: ({ module, token, file }) => {
            // Shown once on first start; also saved to `file` (0600) for `module-ingest send`.
            process.stderr.write(
              `\nDevelopment credential created (module "${module}", scope write:*): ${token}\n` +
                `Saved to ${file}. Revoke it before production: module-ingest token revoke dev\n\n`,
            )
          },
        })
      } catch (err) {
        // Start whole or not at all: startServer() stopped what it had started and no port took a
        // connection. Exit now, even if a part left a handle behind, so a supervisor sees it.
        const e = err as Error & { code?: string }
        logger.fatal({ event: 'ServerStartFailed', code: e.code, err: e }, 'server did not start')
        process.stderr.write(`${errorLine(e)}\n`)
        return exitNow(kExit.failure)
      }
      await stopRequested
      try {
        await server.close()
      } catch (err) {
        logger.error({ event: 'ServerShutdownFailed', err }, 'shutdown failed')
        exitNow(kExit.failure)
      }
      if (backstop) clearTimeout(backstop)
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      logger.flush()
      process.exitCode = kExit.ok
    })
}
