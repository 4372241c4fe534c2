/** Read the first `n` SSE events (those with data) from a URL, then disconnect. */
export async function readEvents(
  url: string,
  n: number,
  options: {
    lastEventId?: string
    timeoutMs?: number
    onEvent?: (ev: { event: string; id: string; data: string }) => void
  } = {},
): Promise<Array<{ event: string; id: string; data: string }>> {
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(), options.timeoutMs ?? 30_000)
  const out: Array<{ event: string; id: string; data: string }> = []
  try {
    const res = await fetch(url, {
      signal: ac.signal,
      headers: options.lastEventId ? { 'last-event-id': options.lastEventId } : {},
    })
    if (res.status !== 200 || !res.body) throw new Error(`GET ${url}: ${res.status}`)
    const decoder = new TextDecoder()
    let buf = ''
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk, { stream: true })
      let end = buf.indexOf('\n\n')
      while (end >= 0) {
        const block = buf.slice(0, end)
        buf = buf.slice(end + 2)
        end = buf.indexOf('\n\n')
        const ev = { event: 'message', id: '', data: '' }
        for (const line of block.split('\n')) {
          const i = line.indexOf(': ')
          if (i < 0) continue
          const [k, v] = [line.slice(0, i), line.slice(i + 2)]
          if (k === 'event') ev.event = v
          else if (k === 'id') ev.id = v
          else if (k === 'data') ev.data = v
        }
        if (ev.data === '') continue
        out.push(ev)
        options.onEvent?.(ev)
        if (out.length >= n) return out
      }
    }
    return out
  } finally {
    clearTimeout(timer)
    ac.abort()
  }
}
