/**
 * The engine's metrics and the snapshot `engine.stats()` returns: this thread's gauges, and the
 * writer's and parsers' own snapshots pulled into the registry once a second.
 *
 * Its own file because it only reads: it observes the threads and connections startEngine() wired
 * and changes nothing on the data path, so engine.ts keeps to starting, wiring and stopping.
 */
import type { Metrics } from '@module-ingest/telemetry'
import type { Connections } from './connections.ts'
import type { ParserControl } from './parser/worker.ts'
import type { Spawned } from './threads.ts'
import type { WriterControl } from './writer/worker.ts'

export interface EngineStats {
  connections: ReturnType<Connections['stats']>
  parsers: Array<Awaited<ReturnType<ParserControl['stats']>>>
  writer: Awaited<ReturnType<WriterControl['stats']>>
  logAvailable: boolean
  metrics: ReturnType<Metrics['summary']>
}

/**
 * Register the gauges and start the once-a-second pull. `pull()` also serves `engine.stats()`;
 * `puller` is the interval close() clears.
 */
export function startMetrics(
  metrics: Metrics,
  writer: Spawned<WriterControl>,
  parserControls: Array<Spawned<ParserControl>['control']>,
  connections: Connections,
) {
  // Metrics: this thread's own, plus worker snapshots pulled once a second.
  metrics.gauge('mi_connections', 'Open client connections', { collect: (g) => g.set(connections.size) })
  metrics.gauge('mi_connections_waiting_share', 'Connections paused until their inbound ring share frees', {
    collect: (g) => g.set(connections.waitingForShare()),
  })
  const ringUsed = metrics.gauge('mi_ring_used_bytes', 'Bytes waiting in each ring', {
    labels: ['ring', 'parser'],
  })
  const logBytes = metrics.gauge('mi_log_bytes', 'Bytes of log segments on disk')
  const oldest = metrics.gauge('mi_log_oldest_record_age_seconds', 'Age of the oldest record kept')
  const rate = metrics.gauge('mi_ingest_records_per_second', 'Records appended per second (last interval)')
  const byteRate = metrics.gauge('mi_ingest_bytes_per_second', 'Log bytes written per second (last interval)')
  const damaged = metrics.gauge(
    'mi_log_damaged_ranges',
    'Damaged log ranges found since start (readers skip them)',
  )
  let last = { at: performance.now(), records: 0, bytes: 0 }
  const pull = async () => {
    const [w, ...ps] = await Promise.all([writer.control.stats(), ...parserControls.map((c) => c.stats())])
    metrics.mergeFrom('writer', w.metrics)
    for (const [i, p] of ps.entries()) {
      metrics.mergeFrom(`parser-${i}`, p.metrics)
      ringUsed.set({ ring: 'inbound', parser: String(i) }, p.inboundRingUsedBytes)
      ringUsed.set({ ring: 'writer', parser: String(i) }, w.writerRingUsedBytes[i] ?? 0)
    }
    for (const [i, used] of connections.stats().outboundRingUsedBytes.entries()) {
      ringUsed.set({ ring: 'outbound', parser: String(i) }, used)
    }
    logBytes.set(w.log.bytesOnDisk)
    damaged.set(w.log.damage.damagedRanges)
    if (w.log.oldestRecordTsUs) oldest.set(Math.max(0, Date.now() / 1000 - w.log.oldestRecordTsUs / 1e6))
    const now = { at: performance.now(), records: w.log.committedRecords, bytes: w.log.committedBytes }
    const dt = (now.at - last.at) / 1000
    if (dt > 0.2) {
      rate.set(Math.round((now.records - last.records) / dt))
      byteRate.set(Math.round((now.bytes - last.bytes) / dt))
      last = now
    }
    return { w, ps }
  }
  const puller = setInterval(() => void pull().catch(() => {}), 1000)
  puller.unref()
  return { pull, puller }
}
