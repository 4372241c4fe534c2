/** Levenshtein distance, case-insensitive: enough for did-you-mean on config keys. */
export function distance(a: string, b: string): number {
  a = a.toLowerCase()
  b = b.toLowerCase()
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    }
    prev = cur
  }
  return prev[b.length] as number
}

/** The closest candidate within a distance that scales with the word's length, if any. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1
  for (const c of candidates) {
    // A key missing its unit suffix (segmentSize → segmentSizeBytes) is a near miss too.
    const lw = word.toLowerCase()
    const lc = c.toLowerCase()
    const d = lw.length >= 4 && (lc.startsWith(lw) || lw.startsWith(lc)) ? 1 : distance(word, c)
    if (d < bestD) {
      best = c
      bestD = d
    }
  }
  return best
}
