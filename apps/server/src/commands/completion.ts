import { Command } from 'commander'
import { usageError } from '../common.ts'

interface Node {
  path: string
  words: string[]
}

/** Every command path with the words that may follow it: subcommand names, then its flags. */
function nodes(cmd: Command, path: string[] = []): Node[] {
  const flags = cmd.options.flatMap((o) => [o.short, o.long].filter((f): f is string => Boolean(f)))
  const own: Node = {
    path: path.join(' '),
    words: [...cmd.commands.map((c) => c.name()), ...flags, '--help'],
  }
  return [own, ...cmd.commands.flatMap((c) => nodes(c, [...path, c.name()]))]
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * A bash completion function over the command tree (generated from the program itself, so a new
 * command or flag completes without editing this file). zsh runs the same function through
 * bashcompinit, which every zsh ships.
 */
export function bashCompletion(root: Command): string {
  const name = root.name()
  const fn = `_${name.replace(/[^A-Za-z0-9]/g, '_')}`
  const cases = nodes(root)
    .map((n) => `    ${quote(n.path)}) words=${quote(n.words.join(' '))} ;;`)
    .join('\n')
  const commandNames = [...new Set(nodes(root).flatMap((n) => n.path.split(' ').filter(Boolean)))]
  return `# ${name} completion for bash. Load with:  source <(${name} completion bash)
${fn}() {
  local cur path word words i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path=""
  # The command path so far: the words before the cursor that name (sub)commands.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case " ${commandNames.join(' ')} " in
      *" $word "*) path="\${path:+$path }$word" ;;
    esac
  done
  case "$path" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${name}
`
}

export function zshCompletion(root: Command): string {
  const name = root.name()
  return `#compdef ${name}
# ${name} completion for zsh. Load with:  source <(${name} completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(root).split('\n').slice(1).join('\n')}`
}

export function completionCommand(): Command {
  return new Command('completion')
    .description('print a shell completion script: source <(module-ingest completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string, _opts: unknown, cmd: Command) => {
      let root = cmd
      while (root.parent) root = root.parent
      if (shell === 'bash') process.stdout.write(bashCompletion(root))
      else if (shell === 'zsh') process.stdout.write(zshCompletion(root))
      else throw usageError(`completion: expected bash or zsh, got "${shell}"`)
    })
}
