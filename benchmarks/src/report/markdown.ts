import type { Row } from '../scenario.ts'
import type { MachineInfo } from './machine.ts'
import { cells, kColumns, ratios } from './table.ts'

/** The JSON written by `--json`, and the only input of BENCHMARKS.md. */
export interface Report {
  generated_at: string
  command: string
  settings: {
    quick: boolean
    big: boolean
    window: number
    workers: number
    warmup_ms: number
    measure_ms: number
    targets: string[]
  }
  machine: MachineInfo
  duration_s: number
  rows: Row[]
  ratios: string[]
}

const esc = (s: string) => s.replace(/\|/g, '\\|')

export function renderMarkdown(rep: Report): string {
  const m = rep.machine
  const s = rep.settings
  const table = [
    `| ${kColumns.join(' | ')} |`,
    `|${kColumns.map((_, i) => (i >= 2 && i <= 13 ? '---:' : '---')).join('|')}|`,
    ...rep.rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`),
  ].join('\n')
  const ratioLines = ratios(rep.rows)
  return `# module-ingest benchmarks

End-to-end numbers (socket → durable ACK) from \`benchmarks/\`, side by side with NATS JetStream and
Redis Streams. **Generated** from the JSON of one run: do not edit by hand, re-run the command below.
How the harness works and how to add a scenario: [README.md](./README.md).

## Command

\`\`\`sh
${rep.command}
\`\`\`

Run at ${rep.generated_at}, took ${Math.round(rep.duration_s)} s. Settings: in-flight window ${s.window} frames per
connection for every target (at most 32,768 in flight in total unless \`--window\` was given: 32 at 1,000
connections; each row's window is in the JSON), ${s.workers} load-generator processes, warm-up ${s.warmup_ms} ms, measured
${s.measure_ms} ms per row${s.quick ? ', **--quick** (smoke-test durations: numbers are indicative only)' : ''}${s.big ? ', --big' : ''}.

## Machine

| | |
|---|---|
| CPUs (nproc) | ${m.nproc} × ${esc(m.cpu_model)} |
| memory | ${m.memory_gib} GiB |
| disk (scratch dir) | ${esc(m.disk)} |
| fdatasync, 4 KiB write | p50 ${m.fdatasync_p50_us} µs, p99 ${m.fdatasync_p99_us} µs |
| kernel | ${m.kernel} |
| Node.js | ${m.node} |
| peers | ${esc(m.nats_server)}; ${esc(m.redis_server)} |

The load generators run on the same machine as the server under test and share its CPUs: with
${m.nproc} CPUs, every number here is a lower bound of what the server does on its own box.

## Results

${table}

- **records/s, MB/s**: records acknowledged inside the measurement window; MB/s counts body bytes (10^6).
- **ack µs**: client-side, from the send (closed loop) or the *scheduled* send (open loop, \`latency-*\`,
  \`connections-*\`) to the acknowledgement: MIP/1 ACK, JetStream PubAck, XADD reply. hdr-histogram, µs.
  Frames still unanswered at the drain deadline are recorded at their age and counted in errors.
- **flush µs**: our server's own \`mi_flush_latency_us\` (first append of a group commit → durable), from
  the admin socket's \`stats\`, over the whole life of that row's server.
- **RSS peak**: max of VmHWM and sampled VmRSS of the server process; **CPU s**: its utime + stime over the
  measurement window (${s.measure_ms} ms${m.nproc ? `; ${m.nproc} CPUs = at most ${((m.nproc * s.measure_ms) / 1000).toFixed(1)} s` : ''}).

## Ours / peers (records/s)

${ratioLines.length ? ratioLines.map((l) => `- ${l}`).join('\n') : '- (no peer rows in this run)'}

\`ours\` (\`always\`) is compared with Redis (\`appendfsync always\`: both fsync before answering). **NATS JetStream
2.9 does not fsync before its PubAck**: it syncs its files every 2 minutes by default, and 2.9 predates
\`sync_interval: always\`. Its fair counterpart is our \`interval\` policy (\`MI_LOG__FLUSH=interval\`,
fdatasync every 10 ms, ACK before it); \`ours\` against JetStream is listed for completeness.

## What limits each number

- **throughput-\\***: CPU. Two shared CPUs carry the server (main thread, parser worker, writer worker)
  *and* the generator processes, so the server's CPU s near the window length means it had ~one CPU.
  With \`always\` the fsync rate is not the limit: group commit puts many frames behind one fdatasync
  (flush p50 ≫ fdatasync p50 means groups wait on CPU, not on the disk). With 1 connection the
  window (${s.window} frames in flight) / ack latency caps throughput (Little's law).
- **Peers**: \`nats-js\` (nats.js \`js.publish\`, a promise + timer + inbox entry per message) is bound by
  the generator's CPU, not by nats-server (see its low CPU s); \`nats-js-lean\` does the same PubAck
  exchange without that bookkeeping and is the fairer JetStream number. ioredis costs more generator
  CPU per message than raw MIP/1 frames too; where a peer server's CPU s is well below the window, its
  row understates that server.
- **latency-\\***: the offered rate. Where \`achieved_pct\` < 100 the target (or the generator on the
  same CPUs) could not keep up and the tail is queueing time, measured without coordinated omission.
  Where it keeps up, p50 is about one group commit: fdatasync + \`groupCommitMaxDelayMs\` + scheduling.
- **connections-\\***: memory per connection (RSS) and connect rate (handshakes are serialised through
  the main thread); CPU is low at 1 record/s per connection. 50k needs \`ulimit -n\` > 50,000 for the
  server process; without privileges to raise it the row is skipped with the reason.
- **recovery-1g**: recovery reads segment indexes and checks the tail; \`restart_ms\` vs \`cold_start_ms\`
  (empty data dir) is the cost of the log. The fill rate is BATCH frames of 64 × 1 KiB under \`interval\`.
- **subscriber-lag**: the disk subscriber competes with ingest for the same CPUs; lag is durable records
  not yet delivered (\`lagRecords\` from \`stats\`), catch-up is after the load stops.
- **Subscriber rows** (\`ai\`, \`s3\`, \`index\`, \`kv-*\`): each scenario's \`ours\` row is the same load with no
  subscriber, in the same run; \`ack_p99_vs_ingest_only\` is a subscriber row's ingest ack p99 over it. The
  subscriber shares the server process and the CPUs with ingest and the generators. \`<x>_per_s\` (\`inferences_per_s\`, \`applied_per_s\`, \`uploaded_per_s\`) is what
  the subscriber finished inside the measurement window: it equals the offered rate when it keeps up (lag
  stays low, catch-up is quick), and is its capacity under that load when it does not. \`ai-b1\` is one
  worker round trip per record. \`s3\` catch-up: \`resume_wait_ms\` is the offline backoff (capped at 2 s for
  the run), \`backlog_ms\` store back → every record of the backlog delivered and \`backlog_mb_per_s\` the
  backlog's body MB over it (records ingested later not counted); \`catch_up_ms\` is load end → lag 0. \`index\` queries are one client
  (its own thread, a node:http keep-alive client, at the nice in \`query_client_nice\`: -5, the server's reads
  thread's default, above the load generators that stand in for producers on other hosts; rows without that
  note ran at 0, the generators' priority) asking 50 times a
  second for 1 h at 1 s (\`format=values\`, ~60 KB of JSON) over an 11 s window, \`reads_request_*\` the
  server's side of them; \`cpu_us_per_record\` is CPU µs per record offered: the server's by thread group, the
  load generators', the query client's. \`kv\` gets are one client back to back over HTTP
  (JSON) during the load; Redis \`GET\` the same over RESP.
- **Noise**: other engineers' tests run on the same 2 CPUs; rows taken minutes apart can differ by 20 %+.
`
}
