/**
 * What: cost of CredentialStore.verifyHello per path (token/hmac × ok/wrong secret/unknown module),
 * to show that an unknown module costs what a wrong secret costs; and, with a simulated clock, how
 * many failed handshakes the default FailureThrottle lets one address and one /24 make.
 * Not part of the test suite. Run: cd packages/auth && node bench/verify-hello.bench.ts
 * Prerequisites: none (no files, no network).
 */
import { randomBytes } from 'node:crypto'
import { CredentialStore, FailureThrottle, hashToken, hmacProof } from '../src/internal.ts'

const token = `mi_${randomBytes(32).toString('base64url')}`
const key = randomBytes(32)
const modules: string[] = []
for (let i = 0; i < 1000; i++) {
  modules.push(
    `  - module: m-${i}\n    tokenHash: ${hashToken(token)}\n    hmacKey: ${key.toString('hex')}\n    scopes: [write:*]\n`,
  )
}
const patterns = Array.from(
  { length: 20 },
  (_, i) => `  - module: fleet-${i}-*\n    tokenHash: ${hashToken(token)}\n`,
)
const store = CredentialStore.fromText(`modules:\n${modules.join('')}${patterns.join('')}`)
const nonce = randomBytes(16)
const cnonce = randomBytes(16)
const proof = hmacProof(key, nonce, cnonce, 'm-500')
const ctx = { nonce }

const cases = {
  'token ok': { module: 'm-500', method: 'token', token },
  'token wrong secret': { module: 'm-500', method: 'token', token: `${token.slice(0, -1)}A` },
  'token unknown module': { module: 'nobody', method: 'token', token },
  'hmac ok (mac:true)': { module: 'm-500', method: 'hmac', cnonce, proof, mac: true },
  'hmac wrong proof': { module: 'm-500', method: 'hmac', cnonce, proof: randomBytes(32) },
  'hmac unknown module': { module: 'nobody', method: 'hmac', cnonce, proof },
}

const N = 20_000
const names = Object.keys(cases) as Array<keyof typeof cases>
const runs = new Map<string, number[]>(names.map((n) => [n, []]))
// Interleave the cases run by run so a noisy neighbour on a shared machine hits them all alike.
for (let r = 0; r < 7; r++) {
  for (const name of names) {
    const hello = cases[name]
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < N; i++) store.verifyHello(hello, ctx)
    runs.get(name)!.push(Number(process.hrtime.bigint() - t0) / N / 1000)
  }
}
console.log(`verifyHello, 1000 exact entries + 20 patterns, ${N} calls × 7 runs per case (median)`)
for (const name of names) {
  const sorted = runs.get(name)!.sort((a, b) => a - b)
  const med = sorted[3]!
  console.log(`  ${name.padEnd(22)} ${med.toFixed(2)} µs/call  (${Math.round(1e6 / med)} calls/s)`)
}

function simulate(addresses: string[], hours: number): number {
  let now = 0
  const th = new FailureThrottle({ now: () => now })
  let failures = 0
  // Each address retries as soon as it is allowed; step the clock 250 ms at a time.
  for (; now < hours * 3600_000; now += 250) {
    for (const a of addresses) {
      if (!th.check(a)) {
        th.fail(a)
        failures++
      }
    }
  }
  return failures
}
const one = simulate(['203.0.113.7'], 1)
const net = simulate(
  Array.from({ length: 254 }, (_, i) => `203.0.113.${i + 1}`),
  1,
)
console.log('default FailureThrottle (20/min per address, 600/min per /24), attacker retrying at once:')
console.log(`  one address: ${one} guesses/hour (${(one / 3600).toFixed(2)}/s)`)
console.log(`  a whole /24: ${net} guesses/hour (${(net / 3600).toFixed(2)}/s)`)
