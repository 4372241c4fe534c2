/**
 * The shipped model's math in plain TypeScript: the build script fits it, the tests use it as the
 * reference the ONNX graph must agree with, and the README documents it.
 *
 * A linear autoencoder (PCA with `k` components) over standardised features:
 *   z = (x - mean) / std;  code = z · W;  recon = code · Wᵀ;  score = mean((z - recon)²)
 * A row that follows the correlations of the training signal reconstructs well (score ≈ noise);
 * a row that breaks them (a stuck sensor, a spike on one channel) scores high.
 */
export interface LinearAutoencoder {
  features: number
  components: number
  mean: number[]
  std: number[]
  /** features × components, row-major. */
  weights: number[]
}

export interface ModelOutputs {
  score: number
  code: number[]
}

/** Forward pass in float32 arithmetic, step for step as the ONNX graph does it. */
export function forward(m: LinearAutoencoder, row: ArrayLike<number>): ModelOutputs {
  const f32 = Math.fround
  const z = new Float32Array(m.features)
  for (let i = 0; i < m.features; i++) z[i] = f32(f32(f32(row[i]!) - f32(m.mean[i]!)) / f32(m.std[i]!))
  const code = new Float32Array(m.components)
  for (let j = 0; j < m.components; j++) {
    let s = 0
    for (let i = 0; i < m.features; i++) s = f32(s + f32(z[i]! * f32(m.weights[i * m.components + j]!)))
    code[j] = s
  }
  let sum = 0
  for (let i = 0; i < m.features; i++) {
    let r = 0
    for (let j = 0; j < m.components; j++) r = f32(r + f32(code[j]! * f32(m.weights[i * m.components + j]!)))
    const d = f32(z[i]! - r)
    sum = f32(sum + f32(d * d))
  }
  return { score: f32(sum / m.features), code: [...code] }
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand())
}

/**
 * The synthetic training signal: 8 sensor channels (temperatures, vibration, current …) driven by
 * 3 hidden factors (load, ambient temperature, rotation speed) plus a little noise per channel.
 */
export const kMixing = [
  [1.0, 0.2, 0.0],
  [0.8, 0.5, 0.1],
  [0.1, 1.0, 0.0],
  [0.0, 0.9, 0.3],
  [0.3, 0.0, 1.0],
  [0.5, 0.1, 0.8],
  [0.9, 0.0, 0.4],
  [0.2, 0.3, 0.6],
]
export const kOffsets = [20, 35, 1.5, 0.2, 60, 12, 3.3, 48]
export const kScales = [5, 4, 0.5, 0.05, 10, 2, 0.3, 6]

export function syntheticRow(rand: () => number, noise = 0.05): number[] {
  const factors = [gaussian(rand), gaussian(rand), gaussian(rand)]
  return kMixing.map((w, i) => {
    const v = w[0]! * factors[0]! + w[1]! * factors[1]! + w[2]! * factors[2]! + noise * gaussian(rand)
    return kOffsets[i]! + kScales[i]! * v
  })
}

/** Fit mean/std and the top `components` principal directions (power iteration with deflation). */
export function fit(rows: number[][], components: number): LinearAutoencoder {
  const n = rows.length
  const d = rows[0]!.length
  const mean = new Array<number>(d).fill(0)
  for (const r of rows) for (let i = 0; i < d; i++) mean[i]! += r[i]! / n
  const std = new Array<number>(d).fill(0)
  for (const r of rows) for (let i = 0; i < d; i++) std[i]! += (r[i]! - mean[i]!) ** 2 / n
  for (let i = 0; i < d; i++) std[i] = Math.sqrt(std[i]!) || 1
  const cov = Array.from({ length: d }, () => new Array<number>(d).fill(0))
  for (const r of rows) {
    const z = r.map((v, i) => (v - mean[i]!) / std[i]!)
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cov[i]![j]! += (z[i]! * z[j]!) / n
  }
  const weights = new Array<number>(d * components).fill(0)
  for (let c = 0; c < components; c++) {
    let v: number[] = Array.from({ length: d }, (_, i) => (i === c ? 1 : 0.1))
    let lambda = 0
    for (let it = 0; it < 500; it++) {
      const w = cov.map((row) => row.reduce((s, x, j) => s + x * v[j]!, 0))
      lambda = Math.hypot(...w)
      v = w.map((x) => x / lambda)
    }
    // A fixed sign, so that refits give byte-identical files.
    const sign = v.reduce((s, x) => s + x, 0) < 0 ? -1 : 1
    v = v.map((x) => x * sign)
    for (let i = 0; i < d; i++) weights[i * components + c] = v[i]!
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cov[i]![j]! -= lambda * v[i]! * v[j]!
  }
  return { features: d, components, mean, std, weights }
}
