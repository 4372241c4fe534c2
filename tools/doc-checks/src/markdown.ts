/**
 * Just enough Markdown for the checks: headings and their GitHub anchors, links, and table rows.
 * Fenced code blocks are skipped everywhere; inline code spans are skipped when looking for links.
 */

export interface Line {
  /** 1-based. */
  n: number
  text: string
}

/** Lines outside fenced code blocks (``` or ~~~). */
export function proseLines(md: string): Line[] {
  const out: Line[] = []
  let fence: string | undefined
  md.split(/\r?\n/).forEach((text, i) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(text)
    if (m) {
      const marker = m[1]!
      if (fence === undefined) fence = marker
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = undefined
      return
    }
    if (fence === undefined) out.push({ n: i + 1, text })
  })
  return out
}

/**
 * GitHub's heading anchor (github-slugger): lower-case the heading's text, drop everything but
 * letters, marks, numbers, `_`, `-` and spaces, then turn each space into `-`.
 */
export function githubSlug(heading: string): string {
  // Code spans render verbatim (`Foo<T>` keeps its <T>); outside them, drop tags and emphasis.
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .split(/(`+[^`]*?`+)/)
    .map((part, i) =>
      i % 2 === 1 ? part.replace(/^`+|`+$/g, '') : part.replace(/<[^>]+>/g, '').replace(/\*/g, ''),
    )
    .join('')
    .trim()
    .toLowerCase()
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
}

export interface Heading {
  n: number
  depth: number
  text: string
}

export function headings(md: string): Heading[] {
  const out: Heading[] = []
  for (const { n, text } of proseLines(md)) {
    const m = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(text)
    if (m) out.push({ n, depth: m[1]!.length, text: m[2]! })
  }
  return out
}

/** Every anchor a `#fragment` may name: heading slugs (duplicates get -1, -2, …) and HTML ids. */
export function anchors(md: string): Set<string> {
  const out = new Set<string>()
  const seen = new Map<string, number>()
  for (const h of headings(md)) {
    const base = githubSlug(h.text)
    const k = seen.get(base) ?? 0
    seen.set(base, k + 1)
    out.add(k === 0 ? base : `${base}-${k}`)
  }
  for (const { text } of proseLines(md)) {
    for (const m of text.matchAll(/<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']/gi)) out.add(m[1]!)
  }
  return out
}

export interface Link {
  n: number
  target: string
}

/** Inline links and images `[t](target "title")`, `[t](<target>)`, and reference definitions. */
export function links(md: string): Link[] {
  const out: Link[] = []
  for (const { n, text } of proseLines(md)) {
    const prose = text.replace(/(`+)[^`]*?\1/g, (s) => ' '.repeat(s.length))
    const def = /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(prose)
    if (def) {
      out.push({ n, target: def[1]! })
      continue
    }
    for (const m of prose.matchAll(/\]\(\s*(?:<([^>]*)>|([^\s)]+))(?:\s+["'(][^)]*)?\)/g)) {
      out.push({ n, target: (m[1] ?? m[2])! })
    }
  }
  return out
}

/** A target with a scheme (`https:`, `mailto:`) or protocol-relative (`//host`) is not a file. */
export function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')
}

/** Cells of a table row `| a | b |`, trimmed; undefined for other lines and the `|---|` rule. */
export function tableCells(line: string): string[] | undefined {
  const t = line.trim()
  if (!t.startsWith('|') || !t.endsWith('|') || t.length < 2) return undefined
  const cells = t
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim())
  if (cells.every((c) => /^:?-+:?$/.test(c))) return undefined
  return cells
}

export interface Row {
  n: number
  /** The `##` heading the row sits under. */
  section: string
  cells: string[]
}

/** Table rows (header rows included) grouped by their `##` section. */
export function tableRows(md: string): Row[] {
  const out: Row[] = []
  let section = ''
  for (const { n, text } of proseLines(md)) {
    const h = /^ {0,3}##\s+(.*?)\s*#*\s*$/.exec(text)
    if (h) {
      section = h[1]!
      continue
    }
    const cells = tableCells(text)
    if (cells) out.push({ n, section, cells })
  }
  return out
}
