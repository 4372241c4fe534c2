import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The monorepo root (this file is tools/doc-checks/src/repo.ts). */
export const repoRoot: string = fileURLToPath(new URL('../../../', import.meta.url))

export interface Workspace {
  /** Directory relative to the root, e.g. `packages/log`. */
  dir: string
  /** package.json `name`, e.g. `@module-ingest/log`. */
  name: string
  /** The file `exports["."]` points at (the source entry in the monorepo), absolute. */
  entry: string | undefined
}

/**
 * Every packages/* and apps/* directory with a package.json. A directory without one (a package
 * someone is still creating) is skipped rather than failing every check.
 */
export function workspaces(root: string = repoRoot): Workspace[] {
  const out: Workspace[] = []
  for (const group of ['packages', 'apps']) {
    const base = join(root, group)
    if (!existsSync(base)) continue
    for (const ent of readdirSync(base, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (!ent.isDirectory()) continue
      const pkgFile = join(base, ent.name, 'package.json')
      if (!existsSync(pkgFile)) continue
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name?: string; exports?: unknown }
      const dot = entryOf(pkg.exports)
      out.push({
        dir: `${group}/${ent.name}`,
        name: pkg.name ?? `${group}/${ent.name}`,
        entry: dot === undefined ? undefined : join(base, ent.name, dot),
      })
    }
  }
  return out
}

function entryOf(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports
  if (exports === null || typeof exports !== 'object') return undefined
  const dot = (exports as Record<string, unknown>)['.']
  if (typeof dot === 'string') return dot
  if (dot !== null && typeof dot === 'object') {
    const d = dot as Record<string, unknown>
    const v = d.default ?? d.import
    return typeof v === 'string' ? v : undefined
  }
  return undefined
}

/** `.ts` files under `dir` (recursive), absolute paths, sorted; node_modules and dist skipped. */
export function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    if (ent.name === 'node_modules' || ent.name === 'dist') continue
    const p = join(dir, ent.name)
    if (ent.isDirectory()) out.push(...tsFiles(p))
    else if (ent.isFile() && ent.name.endsWith('.ts') && !ent.name.endsWith('.d.ts')) out.push(p)
  }
  return out.sort()
}

/** A repo-relative path with forward slashes, for messages. */
export function rel(path: string, root: string = repoRoot): string {
  return relative(root, path).split('\\').join('/')
}

/** 1-based line number of `index` in `text`. */
export function lineOf(text: string, index: number): number {
  let line = 1
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++
  return line
}
