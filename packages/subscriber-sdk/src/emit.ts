import { MI_ERR_PLUGIN_EMIT_INVALID } from './errors.ts'
import type { EmittedRecord } from './types.ts'

/** Stream names of derived records: what MIP/1 accepts from producers too. */
export const MAX_STREAM_NAME_BYTES = 255

const encoder = new TextEncoder()

/** A queued emit as the host gets it from `takePending`: a string body stays a string. */
export interface PendingEmit {
  stream: string
  body: Uint8Array | string
}

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
  /**
   * Close the batch and return what it emitted, string bodies not yet encoded: for a host that
   * writes them (as UTF-8) straight into its own buffer, saving one allocation per record.
   */
  takePending(): PendingEmit[]
  /** Close the batch and drop what it emitted. */
  discard(): void
}

/**
 * Where a host that packs records as they come takes them (the runtime writes each straight into
 * the buffer it moves back): called synchronously for each checked `emit`; the body is neither
 * copied nor kept, and `take`/`takePending` then return nothing. The host resets it on `discard`.
 */
export interface EmitSink {
  add(stream: string, body: Uint8Array | string): void
}

export function createEmitBuffer(subscriberName: string, sink?: EmitSink): EmitBuffer {
  let records: PendingEmit[] | undefined
  // Plugins emit to one or a few streams: a name checked once is not measured again. (Starts as
  // an object no argument can be, so the first call is always checked.)
  let lastStream: unknown = {}
  const emit = (stream: string, body: Uint8Array | string): void => {
    if (records === undefined) {
      throw new MI_ERR_PLUGIN_EMIT_INVALID(subscriberName, 'emit() is only valid while handle() runs')
    }
    if (stream !== lastStream) {
      if (typeof stream !== 'string' || stream.length === 0) {
        throw new MI_ERR_PLUGIN_EMIT_INVALID(subscriberName, 'stream must be a non-empty string')
      }
      if (Buffer.byteLength(stream) > MAX_STREAM_NAME_BYTES) {
        throw new MI_ERR_PLUGIN_EMIT_INVALID(
          subscriberName,
          `stream name over ${MAX_STREAM_NAME_BYTES} bytes`,
        )
      }
      lastStream = stream
    }
    if (typeof body !== 'string' && !(body instanceof Uint8Array))
      throw new MI_ERR_PLUGIN_EMIT_INVALID(subscriberName, 'body must be a Uint8Array or a string')
    if (sink !== undefined) sink.add(stream, body)
    else if (typeof body === 'string') records.push({ stream, body })
    // Copied: the caller may reuse its buffer, or pass a view of the batch's moved buffer.
    else records.push({ stream, body: body.slice() })
  }
  const takePending = (): PendingEmit[] => {
    const out = records ?? []
    records = undefined
    return out
  }
  return {
    emit,
    open() {
      records = []
    },
    take() {
      return takePending().map((r) => ({
        stream: r.stream,
        body: typeof r.body === 'string' ? encoder.encode(r.body) : r.body,
      }))
    },
    takePending,
    discard() {
      records = undefined
    },
  }
}
