import { type JetStreamManager, StorageType } from '@nats-io/jetstream'
import { nanos } from '@nats-io/transport-node'
import type { NatsSubscriberConfig } from './config.ts'
import { MI_ERR_NATS_STREAM_SETUP } from './errors.ts'

export interface EnsureResult {
  created: boolean
  /** Set when the existing stream does not capture `<prefix>.>`: records may land elsewhere. */
  warning?: string
}

/**
 * Make sure the target stream exists. An existing stream is left as its operators configured it:
 * we only warn when its subjects do not obviously cover ours (the publish's expected-stream check
 * is what actually guards against records landing in another stream).
 */
export async function ensureStream(
  jsm: JetStreamManager,
  config: NatsSubscriberConfig,
): Promise<EnsureResult> {
  const subjects = `${config.subjectPrefix}.>`
  try {
    const info = await jsm.streams.info(config.stream).catch((err: unknown) => {
      if ((err as { name?: string }).name === 'StreamNotFoundError') return null
      throw err
    })
    if (info !== null) {
      const covered = info.config.subjects?.some((s) => s === subjects || s === '>')
      return covered
        ? { created: false }
        : {
            created: false,
            warning: `stream ${config.stream} has subjects ${info.config.subjects?.join(', ')}, not ${subjects}`,
          }
    }
    await jsm.streams.add({
      name: config.stream,
      subjects: [subjects],
      storage: StorageType.File,
      duplicate_window: nanos(config.duplicateWindowMs),
      num_replicas: config.replicas,
    })
    return { created: true }
  } catch (err) {
    throw new MI_ERR_NATS_STREAM_SETUP(config.stream, (err as Error).message, { cause: err })
  }
}
