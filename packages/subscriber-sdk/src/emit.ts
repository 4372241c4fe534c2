import { MI_ERR_PLUGIN_EMIT_INVALID } from './errors.ts'
import type { EmittedRecord } from './types.ts'

/** Stream names of derived records: what MIP/1 accepts from producers too. */
export const MAX_STREAM_NAME_BYTES = 255

const encoder = new TextEncoder()

/**
 * Collects a batch's `ctx.emit` calls. The host (and the test kit) opens it before `handle`, and
 * takes the records after `handle` resolved — or discards them when it rejected — so that derived
 * records share the batch's at-least-once fate. `emit` outside an open batch throws.
 */
export interface EmitBuffer {
  /** Pass this as `ctx.emit`. */
  readonly emit: (stream: string, body: Uint8Array | string) => void
  open(): void
  /** Close the batch and return what it emitted. */
  take(): EmittedRecord[]
  /** Close the batch and drop what it emitted. */
  discard(): void
}

export function createEmitBuffer(subscriberName: string): EmitBuffer {
  let records: EmittedRecord[] | undefined
  const emit = (stream: string, body: Uint8Array | string): void => {
    if (records === undefined) {
      throw new MI_ERR_PLUGIN_EMIT_INVALID(subscriberName, 'emit() is only valid while handle() runs')
    }
    if (typeof stream !== 'string' || stream.length === 0) {
      throw new MI_ERR_PLUGIN_EMIT_INVALID(subscriberName, 'stream must be a non-empty string')
    }
    if (Buffer.byteLength(stream) > MAX_STREAM_NAME_BYTES) {
      throw new MI_ERR_PLUGIN_EMIT_INVALID(subscriberName, `stream name over ${MAX_STREAM_NAME_BYTES} bytes`)
    }
    let bytes: Uint8Array
    if (typeof body === 'string') bytes = encoder.encode(body)
    // Copied: the caller may reuse its buffer, or pass a view of the batch's moved buffer.
    else if (body instanceof Uint8Array) bytes = body.slice()
    else throw new MI_ERR_PLUGIN_EMIT_INVALID(subscriberName, 'body must be a Uint8Array or a string')
    records.push({ stream, body: bytes })
  }
  return {
    emit,
    open() {
      records = []
    },
    take() {
      const out = records ?? []
      records = undefined
      return out
    },
    discard() {
      records = undefined
    },
  }
}
