/** What the subscriber needs from an inference backend, in-process or remote. */
export interface OutputTensor {
  dims: readonly number[]
  data: ArrayLike<number> | ArrayLike<bigint>
}

/** Rows [start, end) of a batch and what inference gave for them. */
export type InferChunk =
  | { start: number; end: number; outputs: Map<string, OutputTensor>; error?: undefined }
  | { start: number; end: number; outputs?: undefined; error: Error & { code: string } }

export interface InferenceBackend {
  /** Names the model in logs and errors: the file path, or the server URL and model name. */
  readonly label: string
  /** Values per row the model takes (undefined when its metadata does not say). */
  readonly inputWidth: number | undefined
  readonly outputNames: readonly string[]
  /**
   * Inference over `n` rows of `width` values packed in `rows`, as one or more requests. A request
   * the model server refused (4xx) comes back as a chunk with `error`; anything else throws.
   */
  infer(rows: Float32Array, n: number, width: number, signal: AbortSignal): Promise<InferChunk[]>
  close(): Promise<void>
}

/** The last dimension of a metadata shape when it is a fixed number (`[-1, 8]`, `['N', 8]`). */
export function fixedWidth(shape: readonly (number | string)[] | undefined): number | undefined {
  if (!shape || shape.length < 2) return undefined
  let width = 1
  for (const d of shape.slice(1)) {
    const n = typeof d === 'number' ? d : Number(d)
    if (!Number.isSafeInteger(n) || n <= 0) return undefined
    width *= n
  }
  return width
}

/** Row `i` of an output tensor of `n` rows: a number for [N] or [N,1], else an array. */
export function rowValue(t: OutputTensor, i: number, n: number): number | number[] {
  const per = n === 0 ? 0 : t.data.length / n
  const toNum = (v: number | bigint) => (typeof v === 'bigint' ? Number(v) : v)
  if (per === 1 && t.dims.length <= 2) return toNum(t.data[i]!)
  const out = new Array<number>(per)
  for (let k = 0; k < per; k++) out[k] = toNum(t.data[i * per + k]!)
  return out
}
