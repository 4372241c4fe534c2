import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { bashCompletion, zshCompletion } from '../src/commands/completion.ts'
import { buildProgram, run } from '../src/program.ts'

function complete(script: string, words: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'mi-compl-'))
  try {
    const file = join(dir, 'c.sh')
    writeFileSync(file, script)
    const arr = words.map((w) => `'${w}'`).join(' ')
    const out = execFileSync(
      'bash',
      [
        '-c',
        `source ${file}; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _module_ingest; echo "\${COMPREPLY[@]}"`,
      ],
      { encoding: 'utf8' },
    )
    return out.trim().split(/\s+/).filter(Boolean)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('bash completion: commands, subcommands and flags from the program itself', (t) => {
  const script = bashCompletion(buildProgram())
  t.deepEqual(complete(script, ['module-ingest', 'tok']), ['token'])
  t.true(
    complete(script, ['module-ingest', '']).includes('check') ||
      complete(script, ['module-ingest', '']).includes('send'),
  )
  t.deepEqual(complete(script, ['module-ingest', 'token', 'c']), ['create'])
  t.deepEqual(complete(script, ['module-ingest', 'send', '--s']), ['--stream', '--servername'])
  t.true(complete(script, ['module-ingest', 'tail', '-d', '/x', '--f']).includes('--from-time'))
})

test('module-ingest completion zsh|bash|other', async (t) => {
  t.regex(zshCompletion(buildProgram()), /^#compdef module-ingest\n/)
  let out = ''
  const write = process.stdout.write
  process.stdout.write = ((s: string) => {
    out += s
    return true
  }) as typeof process.stdout.write
  try {
    t.is(await run(['node', 'module-ingest', 'completion', 'bash']), 0)
    t.is(await run(['node', 'module-ingest', 'completion', 'fish']), 2)
  } finally {
    process.stdout.write = write
  }
  t.regex(out, /complete -o default -F _module_ingest module-ingest/)
})
