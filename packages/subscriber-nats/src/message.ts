import type { SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { headers, type MsgHdrs } from '@nats-io/transport-node'

/** The fields of a committed record that identify it and travel as headers. */
export type RecordMeta = Omit<SubscriberRecord, 'body'>

/** Header names; values are decimal strings for numbers, the original strings otherwise. */
export const Header = {
  msgId: 'Nats-Msg-Id',
  source: 'MI-Source',
  stream: 'MI-Stream',
  module: 'MI-Module',
  core: 'MI-Core',
  seq: 'MI-Seq',
  ts: 'MI-Ts',
  rts: 'MI-Rts',
  lsn: 'MI-Lsn',
} as const

// Header values travel on one line: a CR or LF in a name would end the header block.
const oneLine = (v: string) => (v.includes('\n') || v.includes('\r') ? v.replace(/[\r\n]/g, '_') : v)

/**
 * The Nats-Msg-Id of a record: `<source>:<lsn>:<module>:<core>:<seq>`.
 *
 * Why this shape:
 * - `lsn` alone identifies a record within one host's log and never changes: a redelivery (retry,
 *   crash, restart of module-ingest) carries the same lsn, so JetStream drops the copy while the
 *   first one is inside the stream's duplicate_window.
 * - `source` (host name or configured) keeps two ingest hosts, whose lsns overlap, apart.
 * - `module:core:seq` guards against lsn reuse: if a host's data dir is wiped, lsns restart at 1,
 *   and a bare `<source>:<lsn>` would make JetStream drop *new* records as duplicates of old ones
 *   still in the window. With the producer's identity in the id, two records only collide when
 *   the same producer frame landed at the same position, i.e. when they are the same data.
 * A producer-only id (`module:core:seq:index`) was rejected: records of one producer BATCH share
 * seq, and their index in that batch is not stored, so it could not be rebuilt on redelivery.
 */
export function msgIdOf(source: string, r: RecordMeta): string {
  return `${source}:${r.lsn}:${oneLine(r.module)}:${oneLine(r.core)}:${r.seq}`
}

export function headersOf(source: string, r: RecordMeta): MsgHdrs {
  const h = headers()
  h.set(Header.source, source)
  h.set(Header.stream, oneLine(r.stream))
  h.set(Header.module, oneLine(r.module))
  h.set(Header.core, oneLine(r.core))
  h.set(Header.seq, r.seq.toString())
  h.set(Header.ts, String(r.ts))
  h.set(Header.rts, String(r.rts))
  h.set(Header.lsn, String(r.lsn))
  return h
}
