// The dashboard page: one EventSource, a bounded array of samples, uPlot charts redrawn per sample.
// Plain browser JavaScript, no build step. Latencies arrive in µs and are drawn in ms.
;(() => {
  const $ = (id) => document.getElementById(id)
  const token = new URLSearchParams(location.search).get('token')
  const query = token ? `?token=${encodeURIComponent(token)}` : ''
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf']
  let capacity = 900
  let intervalMs = 1000
  let samples = []
  const panels = []

  const fmtBytes = (b) =>
    b == null
      ? 'n/a'
      : b >= 1e9
        ? `${(b / 1e9).toFixed(2)} GB`
        : b >= 1e6
          ? `${(b / 1e6).toFixed(1)} MB`
          : `${(b / 1e3).toFixed(1)} kB`
  const fmtAge = (s) =>
    s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${Math.round(s)} s`

  // A panel: a title, series names and a function giving one value per series from a sample.
  // `keys` (optional) derives the series names from the data, for per-ring and per-subscriber charts.
  function panel(title, names, value, keys) {
    const el = document.createElement('div')
    el.className = 'panel'
    el.innerHTML = `<h2></h2><div></div>`
    $('panels').appendChild(el)
    const p = { el, title, names, value, keys, plot: null, sig: '' }
    retitle(p)
    panels.push(p)
    return p
  }

  function draw(p) {
    if (p.keys) p.names = p.keys(samples)
    const sig = p.names.join('\u0000')
    const data = [samples.map((s) => s.t / 1000)]
    for (let i = 0; i < p.names.length; i++) data.push(samples.map((s) => p.value(s, p.names[i], i)))
    if (p.plot && sig === p.sig) return p.plot.setData(data)
    p.plot?.destroy()
    p.sig = sig
    const width = Math.max(300, p.el.clientWidth - 12)
    p.plot = new uPlot(
      {
        width,
        height: 180,
        series: [{}, ...p.names.map((n, i) => ({ label: n, stroke: colors[i % colors.length], width: 1.5 }))],
        axes: [{}, { size: 60 }],
      },
      data,
      p.el.lastChild,
    )
  }

  panel('ingest: records/s', ['records/s'], (s) => s.recordsPerSec)
  panel('ingest: MB/s', ['MB/s'], (s) => s.bytesPerSec / 1e6)
  // Percentile panels: each point covers one sampling interval (the server reads a histogram
  // window per sample), so a spike shows in its own second. No value in an interval is a gap.
  const pct = (p, i, scale = 1) => (p ? [p.p50, p.p99, p.p999][i] / scale : null)
  panel('ack latency (ms) p50/p99/p99.9 {per}', ['p50', 'p99', 'p99.9'], (s, _n, i) => pct(s.ackUs, i, 1000))
  panel('flush latency (ms) p50/p99/p99.9 {per}', ['p50', 'p99', 'p99.9'], (s, _n, i) =>
    pct(s.flushUs, i, 1000),
  )
  panel('group commit (records) p50/p99/p99.9 {per}', ['p50', 'p99', 'p99.9'], (s, _n, i) =>
    pct(s.groupRecords, i),
  )
  panel('connections and sessions', ['connections', 'sessions'], (s, _n, i) =>
    i === 0 ? s.connections : s.sessions,
  )
  panel('log size (MB)', ['log MB'], (s) => s.logBytes / 1e6)
  panel('log segments', ['segments'], (s) => s.segments)
  panel('oldest record age (min)', ['age min'], (s) => s.oldestRecordAgeSec / 60)
  panel('disk free (GB)', ['free GB'], (s) => (s.diskFreeBytes == null ? null : s.diskFreeBytes / 1e9))
  const union = (pick) => (all) => [...new Set(all.flatMap(pick))].sort()
  panel(
    'ring usage (bytes)',
    [],
    (s, n) => s.ringUsedBytes[n] ?? null,
    union((s) => Object.keys(s.ringUsedBytes)),
  )
  panel(
    'subscriber lag (records)',
    [],
    (s, n) => s.subscribers.find((x) => x.name === n)?.lag ?? null,
    union((s) => s.subscribers.map((x) => x.name)),
  )
  panel(
    'subscriber delivery (records/s)',
    [],
    (s, n) => s.subscribers.find((x) => x.name === n)?.ratePerSec ?? null,
    union((s) => s.subscribers.map((x) => x.name)),
  )

  // "{per}" in a title: the sampling interval, known once the history event arrives.
  function retitle(p) {
    const per = intervalMs === 1000 ? 'per second' : `per ${intervalMs / 1000} s`
    p.el.firstChild.textContent = p.title.replace('{per}', per)
  }

  function showLatest() {
    const s = samples[samples.length - 1]
    if (!s) return
    $('v-rps').textContent = s.recordsPerSec.toFixed(0)
    $('v-mbps').textContent = (s.bytesPerSec / 1e6).toFixed(2)
    $('v-records-total').textContent = String(s.recordsTotal)
    $('v-connections').textContent = String(s.connections)
    $('v-sessions').textContent = String(s.sessions)
    $('v-log').textContent = fmtBytes(s.logBytes)
    $('v-segments').textContent = String(s.segments)
    $('v-oldest').textContent = fmtAge(s.oldestRecordAgeSec)
    $('v-disk').textContent = fmtBytes(s.diskFreeBytes)
    const body = $('subscribers').tBodies[0]
    body.replaceChildren(
      ...s.subscribers.map((x) => {
        const tr = document.createElement('tr')
        for (const [v, cls] of [
          [x.name],
          [x.state],
          [x.lag],
          [x.delivered],
          [x.ratePerSec.toFixed(1)],
          [x.lastError ?? '', 'err'],
        ]) {
          const td = document.createElement('td')
          td.textContent = String(v)
          if (cls) td.className = cls
          tr.appendChild(td)
        }
        return tr
      }),
    )
    document.body.dataset.samples = String(samples.length)
    document.body.dataset.recordsTotal = String(s.recordsTotal)
  }

  // Redraw at most once per animation frame, however fast samples arrive.
  let queued = false
  function render() {
    if (queued) return
    queued = true
    requestAnimationFrame(() => {
      queued = false
      for (const p of panels) draw(p)
      showLatest()
    })
  }

  const es = new EventSource(`/dashboard/events${query}`)
  es.addEventListener('history', (e) => {
    const h = JSON.parse(e.data)
    capacity = Math.ceil((15 * 60 * 1000) / h.intervalMs)
    intervalMs = h.intervalMs
    for (const p of panels) retitle(p)
    // On a reconnect the server sends only what followed Last-Event-ID: append it.
    samples = samples.concat(h.samples).slice(-capacity)
    render()
  })
  es.addEventListener('sample', (e) => {
    samples.push(JSON.parse(e.data))
    if (samples.length > capacity) samples.splice(0, samples.length - capacity)
    render()
  })
  es.onopen = () => {
    $('status').textContent = 'live'
    $('status').className = ''
  }
  es.onerror = () => {
    $('status').textContent = 'disconnected, retrying…'
    $('status').className = 'down'
  }
})()
