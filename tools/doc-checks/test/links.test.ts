// Relative links in the READMEs and docs/ must point at files that exist, and #fragments at
// headings (GitHub slugs) or <a id> anchors that exist.
import test from 'ava'
import { brokenLinks, markdownFiles, rel } from '../src/index.ts'

const files = markdownFiles()

/**
 * Links known to be broken because their target is still being written elsewhere, as
 * `file target`. Each entry must still be broken: once the target lands the test fails until
 * the entry is removed, so this list cannot go stale.
 */
// Links allowed to be broken for now (each must still be broken: fixed ones come out of the list).
const kPending = new Set<string>([])

test('the link check sees the docs', (t) => {
  const names = files.map((f) => rel(f))
  t.true(names.includes('README.md'))
  t.true(names.includes('docs/errors.md'))
})

const seenPending = new Set<string>()
for (const file of files) {
  test.serial(`relative links resolve: ${rel(file)}`, (t) => {
    const broken = brokenLinks(file).filter((b) => {
      const key = `${rel(file)} ${b.target}`
      if (!kPending.has(key)) return true
      seenPending.add(key)
      return false
    })
    t.deepEqual(
      broken.map((b) => `${b.at} ${b.target}: ${b.reason}`),
      [],
    )
  })
}

test.serial('every pending broken link is still broken (remove fixed ones from kPending)', (t) => {
  t.deepEqual(
    [...kPending].filter((k) => !seenPending.has(k)),
    [],
  )
})
