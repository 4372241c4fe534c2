// Run the CLI as a user does: a child process on the real Node binary, stdin piped, bounded.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Resolves with the exit code; a command still running after `timeoutMs` is killed (code -1). */
export function runCli(
  args: string[],
  opts: { cwd?: string; stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
    child.stdin.end(opts.stdin ?? '')
  })
}

/**
 * The same CLI in this process (no Node start-up per call: spawning dozens of CLIs is what makes a
 * loaded CI box time out). Captures stdout/stderr; tests using it must be serial within their file.
 */
export async function runInProcess(args: string[]): Promise<RunResult> {
  const { run } = await import('../src/program.ts')
  let stdout = ''
  let stderr = ''
  const out = process.stdout.write
  const err = process.stderr.write
  process.stdout.write = ((s: string) => {
    stdout += s
    return true
  }) as typeof process.stdout.write
  process.stderr.write = ((s: string) => {
    stderr += s
    return true
  }) as typeof process.stderr.write
  try {
    process.exitCode = undefined
    const code = await run(['node', 'module-ingest', ...args])
    return { code, stdout, stderr }
  } finally {
    process.stdout.write = out
    process.stderr.write = err
    process.exitCode = undefined
  }
}
