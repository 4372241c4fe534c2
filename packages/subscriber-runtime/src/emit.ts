/**
 * What the dispatcher hands the host: a batch's derived records packed, dead letters as records.
 *
 * The worker packs a batch's `ctx.emit` records in the log's own record format (`RecordPacker`
 * of `@module-ingest/log/packed`) and moves the one buffer to the main thread. A host with
 * `emitPacked` (the server: one encoded append on its writer) gets it as is, so no thread makes
 * an object per derived record; any other host gets `{ stream, body }` objects, as before.
 */
import { type PackedRecords, unpackRecords } from '@module-ingest/log/packed'
import type { WireEmit } from './codec.ts'
import type { HostEmit, HostEmitPacked } from './types.ts'

export type Emits = WireEmit[] | PackedRecords

export function hostEmit(
  emit: HostEmit,
  emitPacked: HostEmitPacked | undefined,
): (e: Emits) => Promise<void> {
  return (e) => (Array.isArray(e) ? emit(e) : emitPacked ? emitPacked(e) : emit(unpackRecords(e)))
}
