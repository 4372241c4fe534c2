import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { lineOf, rel, repoRoot, tsFiles, type Workspace, workspaces } from './repo.ts'

export interface Site {
  /** package.json name of the workspace the file belongs to. */
  pkg: string
  /** `packages/log/src/errors.ts:12` */
  at: string
}

export interface CodeScan {
  /** Codes passed as a literal to `createError(…)`: where each is defined. */
  defined: Map<string, Site[]>
  /**
   * Every full `'MI_ERR_…'` string literal in source (defined codes, ad-hoc `{ code: 'MI_ERR_…' }`
   * errors, fallbacks such as toWire's `MI_ERR_INTERNAL`), except prefixes tested with startsWith().
   */
  literals: Map<string, Site[]>
  /** `createError(` calls whose first argument is not a literal code: the scan cannot see them. */
  unreadable: Site[]
}

// `createError<[string, number]>('MI_ERR_X'` — the generic part never contains parentheses.
const kCall = /\bcreateError\s*(?:<[^()]*?>)?\s*\(/g
const kLiteralArg = /^\s*(['"`])(MI_ERR_[A-Z0-9_]+)\1/
// Quotes only: backticks in comments are Markdown (`MI_ERR_…` examples), not code.
const kCodeLiteral = /(['"])(MI_ERR_[A-Z0-9_]+)\1/g

function add(map: Map<string, Site[]>, code: string, site: Site): void {
  const list = map.get(code)
  if (list) list.push(site)
  else map.set(code, [site])
}

/** Scan `src/**\/*.ts` of every packages/* and apps/* workspace. */
export function scanErrorCodes(spaces: Workspace[] = workspaces(), root: string = repoRoot): CodeScan {
  const scan: CodeScan = { defined: new Map(), literals: new Map(), unreadable: [] }
  for (const ws of spaces) {
    for (const file of tsFiles(join(root, ws.dir, 'src'))) {
      const text = readFileSync(file, 'utf8')
      const site = (index: number): Site => ({
        pkg: ws.name,
        at: `${rel(file, root)}:${lineOf(text, index)}`,
      })
      for (const m of text.matchAll(kCall)) {
        // The factory's own declaration: `function createError<…>(code: string, …)`.
        if (/function\s+$/.test(text.slice(Math.max(0, m.index - 20), m.index))) continue
        const arg = kLiteralArg.exec(text.slice(m.index + m[0].length))
        if (arg) add(scan.defined, arg[2]!, site(m.index))
        else scan.unreadable.push(site(m.index))
      }
      for (const m of text.matchAll(kCodeLiteral)) {
        if (/startsWith\(\s*$/.test(text.slice(Math.max(0, m.index - 20), m.index))) continue
        add(scan.literals, m[2]!, site(m.index))
      }
    }
  }
  return scan
}
