import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Log, type LogOptions, openLog, readSegment } from '@module-ingest/log'
import type { ExecutionContext } from 'ava'

export const kCli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

export function tmpDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mi-recover-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Run the CLI as a real child process (stdout/stderr are pipes, so no progress bar is drawn). */
export function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kCli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Deterministic incompressible bytes. */
export function noise(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n)
  let x = seed * 2654435761 + 1
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    b[i] = x >>> 24
  }
  return b
}

export const small: LogOptions = { segmentSizeBytes: 8 * 1024, indexIntervalBytes: 1024 }

/** What buildLog writes for record i: streams, modules and bodies the tests filter on. */
export function sample(i: number): { module: string; stream: string; body: Uint8Array } {
  const module = i % 2 === 0 ? 'pump-1' : 'valve-7'
  const stream = ['sensors/temp', 'sensors/hum', 'events'][i % 3]!
  const body = i % 4 === 3 ? noise(300, i) : new TextEncoder().encode(`reading ${i} ${'x'.repeat(250)}`)
  return { module, stream, body }
}

/** A log of `n` records, one append each, synced every 10; rts = baseRtsUs + i seconds. */
export async function writeRecords(log: Log, from: number, n: number, baseRtsUs: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const s = sample(i)
    log.append({
      module: s.module,
      core: i % 5 === 0 ? 'core-a' : '',
      seq: log.moduleHwm(s.module) + 1n,
      rts: baseRtsUs + i * 1_000_000,
      records: [{ stream: s.stream, ts: baseRtsUs + i * 1_000_000 - 5, body: s.body }],
    })
    if (i % 10 === 9) await log.sync()
  }
  await log.sync()
}

export const kBaseRtsUs = Date.UTC(2026, 0, 1) * 1000

export async function buildLog(dir: string, n = 100): Promise<void> {
  const log = await openLog(dir, small)
  await writeRecords(log, 0, n, kBaseRtsUs)
  await log.close()
}

export function segFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort()
}

/** Start offsets of every group in a segment (as the log package reads them). */
export async function groupOffsets(dir: string, base: number): Promise<number[]> {
  const out: number[] = []
  for await (const g of readSegment(dir, base)) out.push(g.offset)
  return out
}

export const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '')

/** Flip one byte inside the second group of the first (sealed) segment; returns that group's offset. */
export async function flipSealedByte(dir: string): Promise<{ segment: string; offset: number }> {
  const segment = segFiles(dir)[0]!
  const offsets = await groupOffsets(dir, 1)
  const at = offsets[1]! + 20
  const fd = fs.openSync(path.join(dir, segment), 'r+')
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, at)
  b[0]! ^= 0x40
  fs.writeSync(fd, b, 0, 1, at)
  fs.closeSync(fd)
  return { segment, offset: offsets[1]! }
}
