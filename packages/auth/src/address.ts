/**
 * Throttle keys for remote addresses. IPv4 is keyed per address and per /24. IPv6 is keyed per /64
 * (one host or LAN usually gets a whole /64, so a per-address key would give an attacker 2^64
 * fresh keys) and per /48. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as the IPv4 address.
 */
export interface AddressKeys {
  /** IPv4 address or IPv6 /64. */
  readonly host: string
  /** IPv4 /24 or IPv6 /48. */
  readonly network: string
}

const kV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

function v4(text: string): number[] | undefined {
  const m = kV4.exec(text)
  if (m === null) return undefined
  const parts = m.slice(1).map(Number)
  return parts.every((p) => p <= 255) ? parts : undefined
}

/** Eight 16-bit groups, or undefined for text that is not an IPv6 address. */
function v6(text: string): number[] | undefined {
  let s = text
  const zone = s.indexOf('%')
  if (zone !== -1) s = s.slice(0, zone)
  let tail: number[] = []
  const lastColon = s.lastIndexOf(':')
  if (s.includes('.', lastColon)) {
    const four = v4(s.slice(lastColon + 1))
    if (four === undefined) return undefined
    tail = [(four[0]! << 8) | four[1]!, (four[2]! << 8) | four[3]!]
    s = `${s.slice(0, lastColon + 1)}0:0`
  }
  const halves = s.split('::')
  if (halves.length > 2) return undefined
  const parse = (part: string) => (part === '' ? [] : part.split(':'))
  const head = parse(halves[0]!)
  const rest = halves.length === 2 ? parse(halves[1]!) : []
  const missing = 8 - head.length - rest.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]
  const out: number[] = []
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
    out.push(Number.parseInt(g, 16))
  }
  if (tail.length === 2) out.splice(6, 2, ...tail)
  return out
}

export function addressKeys(address: string | undefined): AddressKeys {
  if (address === undefined || address === '') return { host: 'unknown', network: 'unknown' }
  const four = v4(address)
  if (four !== undefined) return { host: four.join('.'), network: `${four.slice(0, 3).join('.')}.0/24` }
  const six = v6(address)
  if (six !== undefined) {
    if (six.slice(0, 5).every((g) => g === 0) && six[5] === 0xffff) {
      const a = [six[6]! >> 8, six[6]! & 255, six[7]! >> 8, six[7]! & 255]
      return { host: a.join('.'), network: `${a.slice(0, 3).join('.')}.0/24` }
    }
    const hex = six.map((g) => g.toString(16))
    return { host: `${hex.slice(0, 4).join(':')}::/64`, network: `${hex.slice(0, 3).join(':')}::/48` }
  }
  // Not an address (a Unix socket path, say): key it as-is, bounded.
  const key = address.slice(0, 64)
  return { host: key, network: key }
}
