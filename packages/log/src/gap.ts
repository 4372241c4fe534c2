/**
 * A damaged range of the log: a bad group (CRC, structure, lsn discontinuity, a name no catalog or
 * segment declares), or a missing range between segments. Readers skip it to the next intact
 * group and go on (like Vector's disk buffer: skip and count, never stop): a cursor hands it to
 * `onGap` and keeps it in `cursor.gaps`; a segment scan (scanSegment, verifyLog, sealing at
 * damage) lists it in `SegmentScan.damage`. One shape for both, so recover-dump's verify, dump,
 * export and repair and the readers name the same range the same way.
 */
export interface LogGap {
  segment: string
  /** Where the bad group starts. */
  offset: number
  /** The next intact group, where reading resumes (the segment's durable end, or its size, when none follows). */
  resumeOffset: number
  /** First lsn lost: the end of the last intact group before. */
  fromLsn: number
  /**
   * Last lsn lost. A cursor always knows it; a segment scan leaves it undefined when nothing
   * intact follows in that segment (the next segment's base, or the watermark, tells).
   */
  toLsn: number | undefined
  /** Records lost, `toLsn - fromLsn + 1`; undefined with `toLsn`. */
  records: number | undefined
  reason: string
}
