import type { CodedError } from '@module-ingest/errors'
import { recordToJson } from '@module-ingest/subscriber-sdk'
import type { ResolvedSubscriberConfig } from './config.ts'
import type { StoredRecord } from './log-types.ts'

/**
 * The dead letters of a batch that used up its attempts: one record per original record on
 * `dlq.<name>` (so a replay tool can take them one by one), body JSON with the error and the
 * whole original record (seq as a string, body as base64).
 */
export function deadLetters(
  cfg: ResolvedSubscriberConfig,
  records: readonly StoredRecord[],
  err: CodedError,
): { stream: string; body: Uint8Array }[] {
  const failedAtUs = Date.now() * 1000
  return records.map((r) => ({
    stream: `dlq.${cfg.name}`,
    body: Buffer.from(
      JSON.stringify({
        subscriber: cfg.name,
        group: cfg.group,
        error: { code: err.code, message: err.message },
        attempts: cfg.maxAttempts,
        failedAtUs,
        record: recordToJson(r, 'base64'),
      }),
    ),
  }))
}
