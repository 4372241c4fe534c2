/**
 * How much main-thread work the runtime does per event-loop turn. The dispatcher runs on the
 * host's main thread, which in the server also accepts and reads ingest's sockets and writes its
 * acks. Catching up a backlog is an unbroken stream of work (read, CRC and decode the log's groups,
 * add their records to batches, copy them into the wire batch): done a whole batch at a time it
 * held that thread for tens of ms per turn with 64 MiB batches (bench/catchup.bench.ts: up to
 * 75–82 ms of main-thread CPU in one turn, 12–14 turns over 5 ms per 512 MiB; Batch.encode alone
 * 4–50 ms of CPU per batch, the copy into fresh memory mostly page faults; more in wall time on a
 * busy box), and every ingest frame arriving meanwhile waited for it — the s3 benchmark's no-op
 * catch-up row had ingest ack p99 ×6.3 of ingest alone. Sliced: at most 6–9 ms (GC pauses), 2–6
 * turns over 5 ms.
 *
 * So that work goes in slices with a yield between them: the log cursor CRC-checks and decodes a
 * read's chunk `kSliceBytes` at a time (the log's CursorOptions.sliceBytes; the chunk is still read
 * with one I/O), the dispatcher adds `kSliceRecords` records to batches at a time, and Batch.encode
 * copies at most `kSliceBytes` of bodies or `kSliceRecords` records at a time; `nextTurn()` between
 * slices. setImmediate runs after the poll phase, so sockets that became readable during a slice
 * are served before the next one: catch-up takes the turns ingest leaves over, about a millisecond
 * each, instead of ingest's. Batches stay as large as configured.
 *
 * Not smaller reads instead: a read of 1 MiB per turn means one threadpool round trip per MiB,
 * and on a loaded 2-core box each waited for a thread to be scheduled — the no-op catch-up fell
 * from ~470 to ~46 MB/s in the s3 benchmark (4 MiB reads: 84 MB/s). The reads stay one I/O per
 * batch, as before.
 */
export const kSliceBytes = 1 << 20

/** Per-record loops (a slice of small records is cut by count, not bytes): ~1 ms of adds or columns. */
export const kSliceRecords = 4096

/** The next event-loop turn, after pending I/O callbacks (not a microtask: those never yield). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Counts a loop's work; `step` answers the next turn once a slice's worth is done, else undefined. */
export class Slicer {
  #records = 0
  #bytes = 0

  step(records: number, bytes = 0): Promise<void> | undefined {
    this.#records += records
    this.#bytes += bytes
    if (this.#records < kSliceRecords && this.#bytes < kSliceBytes) return undefined
    this.#records = 0
    this.#bytes = 0
    return nextTurn()
  }
}
