import { tableRows } from './markdown.ts'

/** The heading of the MIP/1 section in docs/errors.md. */
export const MIP_SECTION = 'MIP/1 wire error codes'

export interface DocCode {
  code: string
  n: number
  /** The `##` heading, with backticks removed: a package name such as `@module-ingest/log`. */
  section: string
  /** The `<a id="…">` in the code cell, if any. */
  anchor: string | undefined
  meaning: string
  fix: string
}

/** `| <a id="mi_err_x"></a>\`MI_ERR_X\` | Meaning | How to fix |` rows, in document order. */
export function docErrorRows(md: string): DocCode[] {
  const out: DocCode[] = []
  for (const row of tableRows(md)) {
    const m = /^(?:<a\s+id="([^"]*)"\s*><\/a>)?\s*`(MI_ERR_[A-Z0-9_]+)`$/.exec(row.cells[0] ?? '')
    if (!m) continue
    out.push({
      code: m[2]!,
      n: row.n,
      section: row.section.replace(/`/g, ''),
      anchor: m[1],
      meaning: row.cells[1] ?? '',
      fix: row.cells[2] ?? '',
    })
  }
  return out
}

export interface DocWireCode {
  n: number
  code: number
  name: string
  kind: string
  cells: string[]
}

/** Rows of the MIP/1 table: `| 7 | \`FORBIDDEN\` | NACK | what the server does | what a client does |`. */
export function docWireRows(md: string): DocWireCode[] {
  const out: DocWireCode[] = []
  for (const row of tableRows(md)) {
    if (row.section !== MIP_SECTION || !/^\d+$/.test(row.cells[0] ?? '')) continue
    out.push({
      n: row.n,
      code: Number(row.cells[0]),
      name: (row.cells[1] ?? '').replace(/`/g, ''),
      kind: row.cells[2] ?? '',
      cells: row.cells,
    })
  }
  return out
}
