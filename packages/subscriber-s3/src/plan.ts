/**
 * From one batch to the objects that store it. Pure: no I/O, so the exactly-once argument in the
 * README can be checked here line by line.
 *
 *   batch (lsn ascending) ─► group by key prefix (stream, time bucket…) ─► per group:
 *     drop records an existing object of the group already holds (its key's range covers them)
 *     cut a new object at maxObjectRecords / maxObjectBytes, and before any existing range,
 *     so no two objects' ranges of one group ever overlap
 */
import type { SubscriberRecord } from '@module-ingest/subscriber-sdk'
import type { LsnRange } from './key.ts'

export interface PlannedObject {
  group: string
  records: SubscriberRecord[]
  firstLsn: number
  lastLsn: number
  /** Estimated encoded bytes before compression. */
  bytes: number
}

export interface Plan {
  objects: PlannedObject[]
  /** Records already stored by an earlier attempt (found through existing ranges). */
  skipped: number
}

export interface PlanLimits {
  maxObjectRecords: number
  maxObjectBytes: number
}

/** Records grouped by key prefix, in first-seen order, each group in lsn order. */
export function groupRecords(
  batch: readonly SubscriberRecord[],
  groupOf: (r: SubscriberRecord) => string,
): Map<string, SubscriberRecord[]> {
  const groups = new Map<string, SubscriberRecord[]>()
  for (const r of batch) {
    const g = groupOf(r)
    let list = groups.get(g)
    if (list === undefined) {
      list = []
      groups.set(g, list)
    }
    list.push(r)
  }
  return groups
}

/** Sorted, merged copy of possibly overlapping ranges. */
export function mergeRanges(ranges: readonly LsnRange[]): LsnRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first)
  const out: LsnRange[] = []
  for (const r of sorted) {
    const tail = out.at(-1)
    if (tail !== undefined && r.first <= tail.last + 1) tail.last = Math.max(tail.last, r.last)
    else out.push({ first: r.first, last: r.last })
  }
  return out
}

/**
 * Plan one group. `existing` are the ranges of objects already in the group (from a LIST and from
 * this thread's own uploads).
 */
export function planGroup(
  group: string,
  records: readonly SubscriberRecord[],
  existing: readonly LsnRange[],
  limits: PlanLimits,
  sizeOf: (r: SubscriberRecord) => number,
): Plan {
  const ranges = mergeRanges(existing)
  const objects: PlannedObject[] = []
  let skipped = 0
  let current: PlannedObject | null = null
  let j = 0
  for (const r of records) {
    // Ranges wholly below this lsn are behind us; if one of them starts after the open object's
    // last record, the object must end before it (ranges of one group never overlap).
    let crossed = false
    while (j < ranges.length && ranges[j]!.last < r.lsn) {
      if (current !== null && ranges[j]!.first > current.lastLsn) crossed = true
      j++
    }
    if (j < ranges.length && ranges[j]!.first <= r.lsn) {
      skipped++
      // The next object must not span this range either.
      current = null
      continue
    }
    const size = sizeOf(r)
    if (
      current === null ||
      crossed ||
      current.records.length >= limits.maxObjectRecords ||
      current.bytes + size > limits.maxObjectBytes
    ) {
      current = { group, records: [], firstLsn: r.lsn, lastLsn: r.lsn, bytes: 0 }
      objects.push(current)
    }
    current.records.push(r)
    current.lastLsn = r.lsn
    current.bytes += size
  }
  return { objects, skipped }
}
