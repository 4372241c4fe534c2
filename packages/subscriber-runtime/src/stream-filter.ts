/**
 * Stream globs: `*` matches any run of characters, dots included (`sensors.*` matches
 * `sensors.a.b`); everything else is literal. A subscriber never sees its own dead letters
 * (`dlq.<name>`), which would otherwise loop a '*' subscriber's failures back into it.
 */
export type StreamFilter = (stream: string) => boolean

export function compileStreamFilter(globs: readonly string[], ownDlq?: string): StreamFilter {
  if (globs.includes('*') && ownDlq === undefined) return () => true
  const source = globs
    .map((g) =>
      g
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*'),
    )
    .join('|')
  const re = new RegExp(`^(?:${source})$`)
  // Streams repeat heavily: memoise the answer per name (bounded so a stream-name flood can't grow it).
  const cache = new Map<string, boolean>()
  // Records come in runs of one stream (a producer batch): the last answer first.
  let last: string | undefined
  let lastHit = false
  return (stream) => {
    if (stream === last) return lastHit
    let hit = cache.get(stream)
    if (hit === undefined) {
      hit = stream !== ownDlq && re.test(stream)
      if (cache.size > 10_000) cache.clear()
      cache.set(stream, hit)
    }
    last = stream
    lastHit = hit
    return hit
  }
}
