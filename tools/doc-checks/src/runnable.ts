/**
 * Executable docs: a fenced `sh` block right after `<!-- doc-test:run -->` is a command sequence
 * that must run as written against a real server. `<!-- doc-test:run expect=/acked 2/ -->` also
 * requires that output (stdout + stderr) match the regular expression.
 */
export interface RunnableBlock {
  /** 1-based line of the opening fence. */
  line: number
  code: string
  expect: RegExp | undefined
}

const kMarker = /^<!--\s*doc-test:run(?:\s+expect=\/(.+)\/)?\s*-->\s*$/

export function runnableBlocks(md: string): RunnableBlock[] {
  const lines = md.split('\n')
  const out: RunnableBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const m = kMarker.exec(lines[i]!.trim())
    if (!m) continue
    const fence = lines[i + 1]?.trim() ?? ''
    if (!/^```(sh|bash|shell)\b/.test(fence))
      throw new Error(`line ${i + 1}: doc-test:run must precede a sh block`)
    const body: string[] = []
    let j = i + 2
    for (; j < lines.length && lines[j]!.trim() !== '```'; j++) body.push(lines[j]!)
    out.push({
      line: i + 2,
      code: body.join('\n'),
      expect: m[1] === undefined ? undefined : new RegExp(m[1]),
    })
    i = j
  }
  return out
}

export interface Rewrite {
  from: string | RegExp
  to: string
}

/**
 * How a documented command is pointed at the test server without changing its meaning: the pnpm
 * wrappers become the same CLI run by this Node, and the default ports become the test's ports.
 */
export function rewriteBlock(code: string, rewrites: readonly Rewrite[]): string {
  let s = code
  for (const r of rewrites)
    s = typeof r.from === 'string' ? s.split(r.from).join(r.to) : s.replace(r.from, r.to)
  return s
}
