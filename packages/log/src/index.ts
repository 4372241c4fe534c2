/**
 * @module-ingest/log: the durable segmented append-only log. The WAL *is* the queue.
 *
 * ## Design constraints
 * - One writer per directory (the engine's writer worker), any number of readers in any thread or
 *   process. Readers take no lock the writer could wait on: they read files with their own fds,
 *   bounded by a durable watermark the writer publishes.
 * - One `append()` is one atomic unit (a MIP/1 BATCH): after any crash all its records are present
 *   and contiguous, or none are. Nothing is written twice: readers consume the segments directly.
 * - Segments default to 64 MiB (`segmentSizeBytes`); a group never spans two segments (a group
 *   larger than the segment size gets a segment of its own).
 * - Every group carries a CRC-32 (zlib). Recovery cost is bounded by the data since the last
 *   checkpoint (default every 16 MiB / 5 s), not by the log size.
 * - No node:net; no native addons.
 *
 * ## Writer layout (one concern per file)
 * ```
 * log.ts             facade: openLog and the wiring of the parts; what follows a
 *                    commit (watermark, onDurable, onCommit) and a roll (checkpoint, retention)
 * api.ts             the public types (Log, AppendEntry, LogStats) and the parts' shared WriterCtx
 * group-commit.ts    lsns, the forming group, the async pump and caller-driven commitSync/Async,
 *                    sync() and whenDurable() waiters
 * group.ts           a group's bytes: encoding appends, framing (header, names, zstd, CRC);
 *                    buffers of durable groups recycled for the next ones
 * flush-policy.ts    the flush policy as one strategy object ('always' | 'interval' | 'none'):
 *                    sync per commit or not, settle before checkpoint/roll/sync(), background flush
 * segment-writer.ts  active segment (offsets, live sparse index), sealed list, roll, retry probe
 * names.ts           catalog interning, persisting new names before their first group, ids per group
 * catalog-compact.ts dropping names no retained segment uses (after retention); <base>.ids files
 * module-hwm.ts      per-module high-water marks (live and durable); idle modules leave memory
 * checkpointer.ts    checkpoints (meta.ts) and the HWM file's deltas and rewrites (hwm-file.ts)
 * retention.ts       deleting sealed segments by age/size, respecting protected groups
 * failure.ts         open → unavailable → open | closed, the epoch, retry probing
 * recovery.ts        openLog's recovery scan;  seal.ts  sealing the last segment at damage
 * verifier.ts        background CRC check of sealed segments
 * append-check.ts    append()'s argument checks;  watermark-writer.ts  the `durable` file
 * entry*.ts          encoded appends (see "Parse once"): entry-format.ts the layout, entry-encoder.ts
 *                    the parser's AppendEncoder, entry-reader.ts the writer's EncodedReader,
 *                    entry-batch.ts into a group (crc32-combine.ts folds a parser's CRC in)
 * crash-hook.ts      test hooks: a SIGKILL-like crash and the next openLog's wait for its I/O
 * ```
 *
 * ## Reader layout
 * ```
 * reader.ts          Reader: the watermark, the segment directory and sparse indexes, the
 *                    catalog view, consumer groups; the cursors it opened
 * cursor.ts          Cursor: positioning (by lsn or receive time), read(), skipping and
 *                    accounting damage (gaps)
 * chunk-decoder.ts   one chunk of a segment: CRC check, decode (sliced), names from the catalog
 * follow.ts          learning that the watermark moved; waitForData()
 * group-cursor.ts    a cursor handing out whole groups: its own decode, the same Cursor
 * ```
 *
 * ## On-disk format (directory)
 * ```
 * <base:20 digits>.seg   segment: "MILOGSG1" | u64le base lsn | group*
 * <base>.idx             sparse index (sparse-index.ts): entry every 64 KiB; sealed ones have a footer
 * <base>.ids             "MISEGID1" | u32 crc | u32 n | u32 id × n: catalog ids a sealed segment uses
 * catalog                "MICATLG1" | (u32 crc | u16 len | utf8 name)*   id = 1-based position;
 *                        len 0: a hole, u32 n ids that compaction dropped (never reused)
 * checkpoint.0|1         JSON {crc, body}: segBase, offset, nextLsn, catalogCount, and the HWM file
 *                        (hwmGen) with the length of it (hwmBytes) that holds the durable marks
 * hwm.0|1                lines of JSON {crc, body}, body {gen, hwm}: all module HWMs, then per
 *                        checkpoint the ones changed since; rewritten when the deltas outgrow it
 * durable                40 B watermark, pwritten in place after every commit (meta.ts)
 * groups/<name>          JSON {nextLsn}: consumer-group offsets
 * quarantine.json        damage recorded by `recover-dump repair` as a known loss (informational only)
 * writer.pid             pid of the live writer or repair tool (lock.ts: created by link(), atomic)
 * <seg>.cut-<offset>     durable bytes a repair cut off (raw.ts truncateSegmentTail), for salvage
 *
 * group   = u32le payloadLen | u32le crc32(payload) | payload
 * payload = u8 flags (0xA0 | 1 if zstd | 2 if names | 4 if name tables | 0x10 if a ts > 2^53-1)
 *           · varint baseLsn · varint count
 *           · varint baseRts · [names: varint firstId · varint n · (varint len · utf8)×n]
 *           · [zstd: varint rawLen · zstd frame of the rest] · batch+
 * batch   = varint moduleId · varint coreId (0 = '') · varint seq (u64) · zigzag(rts - baseRts)
 *           · varint n · [4: varint k · k × varint streamId] · n × record
 * record  = varint streamIdx (4: index into the batch's k ids; else a catalog id) · zigzag(ts - rts)
 *           · varint bodyLen · body          (zigzag: up to 8 varint bytes; 10 under flag 0x10)
 * ```
 * A group holds every append of one group commit. Overhead per record: 8 (prefix) + ~12 (group
 * header) + ~7 (batch header) + ~5 (record header) ≈ 30-35 B when one DATA is alone in its group;
 * ≈ 12 B for DATA under load (many per group) and ≈ 5 B for records inside a BATCH. See README.
 *
 * ## Parse once (encoded appends, entry.ts)
 * Every record passes through the one writer thread, so it must not decode records. A parser
 * thread (there can be several) builds the batch's records in the format above with entry.ts's
 * AppendEncoder, and the writer's `appendEncoded` writes the batch header, maps the batch's few
 * stream names to catalog ids (once per append, and not even that when the names repeat the
 * previous append's) and copies the records. CRC: a batch with ≥ 2 KiB of records carries their
 * CRC-32 from the parser and the writer combines it into the group's (crc32Combine) without
 * reading them; smaller ones (a DATA frame) are covered by one crc32 call per run of them at
 * commit, since a call costs ~0.5 µs before its first byte (cheaper than one per frame).
 * Catalog ids are per log and only the writer knows them, so records index a per-batch name table
 * (flag 4) instead of naming catalog ids: ~2 B more per DATA record. Groups without flag 4 (logs
 * written before it) are read as before; every group written now has it, and a log written by
 * this version cannot be read by older ones (they see damage). `append()` encodes the same way.
 * Log compression (`compression: 'zstd'`) still compresses and CRCs the whole group on the writer.
 *
 * ## Timestamps above 2^53 (flag 0x10)
 * A record's ts is any u64 (MIP/1). Up to 2^53-1 it is a JS number all the way (parser, encoder,
 * writer, reader: no BigInt on that path), and its zigzag delta from the batch rts fits 8 varint
 * bytes. A ts above arrives as a bigint (protocol DecodedRecord.ts); the parser encodes its delta
 * exactly (up to 10 bytes, Writer.zigzagBig) and marks the encoded append (entry.ts flag 2); the
 * writer gives the group holding it flag 0x10 (kFlagTs64), and readers decode that group's deltas
 * exactly (Reader.tsExact): a number when the ts fits one, else a bigint (StoredRecord.ts is
 * `number | bigint`, a bigint only above 2^53-1). Only groups holding such a ts pay for it.
 * The flag sits in the magic nibble (0xB0) on purpose: older builds ignore unknown low flag bits
 * but check `flags & 0xf0 === 0xa0`, so they see "bad group magic" (damage, skipped with a gap or
 * refused at recovery) instead of misreading 10-byte deltas. This build refuses unknown low bits
 * (0x08) the same way, so a future flag cannot be misread either. Summaries that hold a ts as an
 * f64 (a segment's firstTs in the index footer and checkpoint) keep its nearest double.
 *
 * ## Catalog rule
 * Names are interned to ids. A new name's catalog entry is written (and, under 'always',
 * fdatasync'ed) before the first group that uses it is written, and that group declares it too
 * (flag 2); the first group of each segment declares every name (while the catalog is under a
 * quarter segment). So the catalog is rebuildable from the segments (catalog-rebuild.ts): recovery
 * does it when the file is missing, unreadable or behind, readers for an id the file lacks.
 * After retention deleted segments, names no retained segment (<base>.ids), live module or
 * unwritten group uses leave the file and memory (catalog-compact.ts); their ids stay holes, a
 * returning name gets a new id, and the first group of a segment declares a hole as ''.
 *
 * ## Group-commit rule
 * Under flush 'always', `onDurable(lsn)` fires, the watermark moves and readers may see records only
 * after the fdatasync that covers the group holding them has returned. Appends made while an
 * fdatasync runs form the next group; a group is cut early when it reaches `groupCommitMaxBytes`
 * and is then written at once, overlapping the running fdatasync, and synced right after it.
 * `groupCommitMaxDelayMs` (default 0) lets an idle writer wait to gather a bigger first group.
 * Under 'interval' / 'none' a group counts as durable once written (in the page cache): it survives
 * a process crash but not a power cut; 'interval' fdatasyncs every `flushIntervalMs`.
 *
 * ## Durable watermark (how readers learn it)
 * The writer pwrites `durable` (durableLsn, segment base, end offset, CRC) after each commit;
 * readers re-read it on every `read()` and never read past (segment, end offset). How they learn
 * that it moved is one mechanism with two transports (durable-signal.ts; the reader's side is follow.ts):
 * - in the writer's process, `log.durableSignal` (Int32Array over a SharedArrayBuffer: a commit
 *   counter bumped with Atomics.add + notify after every commit, and the durable lsn), passed to
 *   openReader or watched with `watchDurable(signal, cb)` (the engine hands it to the main thread);
 * - in other processes, inotify on the `durable` file, with a 50 ms poll as the floor (1 s with
 *   the signal).
 *
 * ## Recovery (openLog)
 * 0. Remove *.tmp-<pid>-* files of dead processes (ENOSPC mid atomic write, SIGKILL).
 * 1. Catalog: drop a torn last entry; rebuild a missing/unreadable one from the segments, or refuse
 *    with MI_ERR_LOG_CATALOG_MISSING (writing nothing) when they cannot name every id. Names the
 *    scan finds declared past the catalog's end are appended (fdatasynced).
 * 2. Pick the valid checkpoint slot with the higher generation (missing/invalid → full scan).
 * 3. Scan groups from the checkpoint forward, checking length, CRC, lsn continuity and catalog ids,
 *    rebuilding module HWMs and the active segment's sparse index.
 * 4. The first bad group in the last segment is a torn tail, and the file is truncated there
 *    (partial or CRC-bad groups, garbage or zeros appended), only if a crash could have made it: a
 *    crash tears only what follows the last fdatasync. If intact groups follow it (scan.ts
 *    findNextGroup), it is damage, and cutting would drop CRC-valid acknowledged records: the
 *    segment is sealed there as it is (seal.ts: a new segment starts after its last intact group,
 *    readers skip the damage with a gap and serve the rest; stats().recovery.sealed, onDamage).
 *    If nothing intact follows but, under 'always', it starts before the watermark's durable end,
 *    openLog refuses with MI_ERR_LOG_CORRUPT (segment + offset, "run module-ingest-recover-dump
 *    repair") and truncates nothing. A bad group inside a sealed segment is corruption: reported
 *    (stats().recovery, onDamage), never quarantined; the scan goes on past it (module HWMs and
 *    names of the intact groups after it count). Data before the checkpoint is not re-read at
 *    open: the background check (verifier.ts, one sealed segment per verifyIntervalMs) and
 *    verifyLog do that; readers CRC-check every group they read.
 *
 * ## Damage never stops a reader
 * A cursor that meets a bad group (CRC, structure, lsn discontinuity, undeclared name) or a
 * missing range between segments skips to the next intact group (scan.ts findNextGroup) and
 * accounts for it: a LogGap (segment, offset, lost lsns) to onGap, cursor.gaps, skippedRecords.
 * It never skips an intact group (quarantine.json does not hide data). verifyLog/scanSegment go on
 * past damage the same way, so recover-dump's verify, dump, export and repair agree.
 *
 * ## File-system seam and power loss
 * Every file write, sync, rename, link and unlink of the log goes through fsio.ts (a Proxy over
 * node:fs) or the writer's WriterIo; fault-fs*.ts implement both for tests and model a power cut
 * (only what a completed fdatasync of the file, and fsync of its directory for names, covered
 * survives; the rest dropped or torn). Rule: a new file or rename is durable only after an fsync
 * of its directory (segments at roll, checkpoints, the catalog, groups/ and its files).
 * 5. fdatasync what was kept, write a fresh checkpoint and the watermark.
 *
 * ## Lock and repair
 * writer.pid is taken atomically (pid written to a private file, fsynced, link()ed: EEXIST while
 * held) by openLog and by acquireRepairLock; a holder is live if kill(pid, 0) succeeds or fails
 * with EPERM, it is not a zombie (/proc state Z: SIGKILLed, not reaped) and its start time matches
 * the one recorded in writer.pid (else the pid was reused). openLog waits lockWaitMs for a live
 * holder that is exiting. Raw tools that change files refuse beside a live holder other than our own repair
 * lock. truncateSegmentTail keeps readers' invariant (never past durable data, never a "short
 * prefix" on data that is gone): it lowers the watermark before cutting, drops checkpoint slots
 * past the cut and moves consumer groups back (see raw.ts).
 *
 * ## Failure (ENOSPC, EIO)
 * The writer stops accepting (`append` throws MI_ERR_LOG_UNAVAILABLE, `onError` fires), discards
 * what was not durable (lsns and HWMs fall back to the durable ones), truncates the segment back
 * to the durable end and probes every `retryIntervalMs` (or on `retry()`); `onResume` fires when a
 * probe write + fdatasync succeeds.
 *
 * ## Retention
 * Sealed segments only, oldest first, by age of their newest record (`maxAgeMs`) and total size
 * (`maxBytes`); never one that a group in `retention.protectGroups` has not fully consumed,
 * unless its newest record is older than `forceDeleteAfterMs`.
 */

// Records as JSON: one shape for every printer, owned by the SDK (the record plugins see).
export type { BodyFormat } from '@module-ingest/subscriber-sdk/record'
export { encodeBody, kBodyFormats, printableText, recordToJson } from '@module-ingest/subscriber-sdk/record'
export type { CommitInfo, FlushPolicy, LogOptions, RetentionOptions } from './config.ts'
export { kDefaults } from './config.ts'
export type { CursorOptions, ReadOptions } from './cursor.ts'
export { Cursor } from './cursor.ts'
export { durableLsnOf, watchDurable } from './durable-signal.ts'
export {
  MI_ERR_LOG_APPEND_INVALID,
  MI_ERR_LOG_CATALOG_MISSING,
  MI_ERR_LOG_CLOSED,
  MI_ERR_LOG_CORRUPT,
  MI_ERR_LOG_FORMAT,
  MI_ERR_LOG_GROUP_INVALID,
  MI_ERR_LOG_LOCKED,
  MI_ERR_LOG_OPEN_FAILED,
  MI_ERR_LOG_OPTION_INVALID,
  MI_ERR_LOG_UNAVAILABLE,
} from './errors.ts'
export type { WaitOptions } from './follow.ts'
export type { LogGap } from './gap.ts'
export type { CommittedGroup, GroupBatch, GroupCursorOptions } from './group-cursor.ts'
export { GroupCursor, groupRecord, groupTs } from './group-cursor.ts'
export type { RepairLock, WriterLockState } from './lock.ts'
export { acquireRepairLock, pidAlive, readWriterLock } from './lock.ts'
export type { AppendEntry, AppendRecord, AppendResult, CommitSyncResult, Log, LogStats } from './log.ts'
export { openLog } from './log.ts'
export type { QuarantineEntry, Watermark } from './meta.ts'
export type { EnumOption, IntOption, LogOptionSpec } from './options.ts'
export { kLogOptionTable, kRetentionOptionTable } from './options.ts'
export type {
  ScanOptions,
  SegmentInfo,
  SegmentScan,
  TruncateResult,
  VerifyReport,
} from './raw.ts'
export {
  listSegments,
  quarantineSegment,
  readSegment,
  rebuildIndex,
  scanSegment,
  truncateSegmentTail,
  unquarantineSegment,
  verifyLog,
} from './raw.ts'
export type { GroupInfo, Groups, ReaderOptions, StoredRecord } from './reader.ts'
export { openReader, Reader } from './reader.ts'
export type { RecoveryReport } from './recovery.ts'
export type { SealResult } from './seal.ts'
export { sealSegmentAtDamage } from './seal.ts'
export type { DamageReport, DamageStats } from './verifier.ts'
