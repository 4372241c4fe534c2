const decoder = new TextDecoder()

/**
 * A telemetry body as a number: plain text (`42.5`, ` -3e2\n`) or JSON `{ "value": n }`.
 * Returns undefined for anything else (counted, never thrown: a bad record must not block the
 * batch behind it forever).
 */
export function parseValue(body: Uint8Array): number | undefined {
  if (body.byteLength === 0 || body.byteLength > 4096) return undefined
  const text = decoder.decode(body).trim()
  if (text === '') return undefined
  if (text.charCodeAt(0) === 0x7b /* { */) {
    try {
      const value = (JSON.parse(text) as { value?: unknown } | null)?.value
      return typeof value === 'number' && Number.isFinite(value) ? value : undefined
    } catch {
      return undefined
    }
  }
  const n = Number(text)
  return Number.isFinite(n) ? n : undefined
}
