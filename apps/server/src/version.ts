import { readFileSync } from 'node:fs'
import type { Command } from 'commander'

/** The package version, read once from package.json (no JSON import: plain type stripping). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version

export const versionText = () => `module-ingest ${VERSION} (node ${process.version})`

/** `-V, --version` on a command and every command below it: `module-ingest token create --version` works. */
export function addVersionEverywhere(cmd: Command): void {
  cmd.version(versionText(), '-V, --version', 'print the version and exit')
  for (const sub of cmd.commands) addVersionEverywhere(sub)
}
