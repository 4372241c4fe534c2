import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { anchors, isExternal, links } from './markdown.ts'
import { rel, repoRoot } from './repo.ts'

/** README.md, docs/*.md, packages/*\/README.md and apps/*\/README.md that exist, absolute. */
export function markdownFiles(root: string = repoRoot): string[] {
  const out: string[] = []
  const push = (p: string) => existsSync(p) && out.push(p)
  push(join(root, 'README.md'))
  const docs = join(root, 'docs')
  if (existsSync(docs)) {
    for (const f of readdirSync(docs).sort()) if (f.endsWith('.md')) out.push(join(docs, f))
  }
  for (const group of ['packages', 'apps']) {
    const base = join(root, group)
    if (!existsSync(base)) continue
    for (const d of readdirSync(base).sort()) push(join(base, d, 'README.md'))
  }
  return out
}

export interface Broken {
  /** `docs/errors.md:12` */
  at: string
  target: string
  reason: string
}

const anchorCache = new Map<string, Set<string>>()
function anchorsOf(file: string): Set<string> {
  let set = anchorCache.get(file)
  if (!set) {
    set = anchors(readFileSync(file, 'utf8'))
    anchorCache.set(file, set)
  }
  return set
}

/**
 * Relative links of `file` whose target file does not exist, or whose `#fragment` names no heading
 * or HTML anchor of the target Markdown file. A leading `/` is the repository root, as on GitHub.
 */
export function brokenLinks(file: string, root: string = repoRoot): Broken[] {
  const out: Broken[] = []
  anchorCache.delete(file)
  for (const { n, target } of links(readFileSync(file, 'utf8'))) {
    if (isExternal(target)) continue
    const at = `${rel(file, root)}:${n}`
    const hash = target.indexOf('#')
    const pathPart = (hash === -1 ? target : target.slice(0, hash)).replace(/\?.*$/, '')
    const fragment = hash === -1 ? '' : target.slice(hash + 1)
    let path: string
    try {
      path = decodeURIComponent(pathPart)
    } catch {
      out.push({ at, target, reason: 'malformed percent-encoding' })
      continue
    }
    const dest = path === '' ? file : path.startsWith('/') ? join(root, path) : resolve(dirname(file), path)
    if (!existsSync(dest)) {
      out.push({ at, target, reason: `no such file ${rel(dest, root)}` })
      continue
    }
    if (fragment === '' || !dest.endsWith('.md') || statSync(dest).isDirectory()) continue
    let id: string
    try {
      id = decodeURIComponent(fragment)
    } catch {
      id = fragment
    }
    if (!anchorsOf(dest).has(id))
      out.push({ at, target, reason: `no heading or anchor #${id} in ${rel(dest, root)}` })
  }
  return out
}
