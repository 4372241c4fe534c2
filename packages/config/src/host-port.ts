export interface HostPort {
  host: string
  port: number
}

/**
 * Parse "host:port", "[v6]:port" or ":port" (all interfaces). Returns a problem string on failure.
 * Port 0 is allowed: the OS picks a free port (tests).
 */
export function parseHostPort(text: string): HostPort | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text)
  if (!m) return 'expected "host:port" (e.g. "127.0.0.1:7411", "[::1]:7411", ":7411")'
  const port = Number(m[3])
  if (port > 65535) return `port ${port} is out of range 0..65535`
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : (m[2] as string))
  return { host, port }
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
