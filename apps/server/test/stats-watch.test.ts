import test from 'ava'
import { formatWatch } from '../src/commands/stats-watch.ts'

const sample = (atMs: number, received: number, delivered: number) => ({
  atMs,
  stats: {
    metrics: {
      counters: [{ name: 'mi_records_received_total', help: '', labels: {}, value: received }],
      gauges: [{ name: 'mi_connections', help: '', labels: {}, value: 3 }],
      histograms: [],
    },
    subscribers: [
      {
        name: 'disk',
        state: 'running',
        delivered,
        lagRecords: 5,
        retries: 0,
        deadLettered: 0,
        lastError: null,
      },
    ],
  },
})

test('stats --watch: a table with rates since the previous refresh', (t) => {
  const first = formatWatch(sample(0, 100, 50), undefined, 2000)
  t.regex(first, /^module-ingest stats {2}1970-01-01T00:00:00\.000Z {2}\(every 2 s; Ctrl-C to stop\)/)
  t.regex(first, /METRIC\s+VALUE\s+RATE\/s\nmi_records_received_total\s+100\s+-/)
  const next = formatWatch(sample(2000, 300, 150), sample(0, 100, 50), 2000)
  t.regex(next, /mi_records_received_total\s+300\s+100\n/)
  t.regex(
    next,
    /SUBSCRIBER\s+STATE\s+DELIVERED\s+RATE\/s\s+LAG\s+RETRIES\s+DLQ\s+LAST ERROR\ndisk\s+running\s+150\s+50\s+5\s+0\s+0/,
  )
})
