/**
 * mulberry32: a small seeded PRNG for property and model tests, so a failing seed reproduces.
 * Returns floats in [0, 1). Not for anything but tests and build-time tools (32-bit state, not
 * cryptographic). The sequence is pinned (test/random.test.ts): recorded failing seeds replay, and
 * subscriber-ai's scripts/make-model.ts fits the shipped model from it.
 * Its own subpath (`@module-ingest/testing/random`) so worker-thread fixtures import it without
 * loading the rest of this package.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
