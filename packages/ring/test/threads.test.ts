// Cross-thread tests with real worker_threads. Default runs are bounded to a few seconds;
// MI_SOAK=1 pushes tens of millions of records through.
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import test from 'ava'
import {
  CONTROL_BYTES,
  createDoorbell,
  createRing,
  DATA_WAITER,
  RingConsumer,
  RingProducer,
  SPACE_WAITER,
} from '../src/internal.ts'
import { consume, produce, type StreamResult } from './fixtures/_drive.ts'
import type { WorkerJob } from './fixtures/_ring-worker.ts'

const SOAK = process.env.MI_SOAK === '1'
const workerUrl = new URL('./fixtures/_ring-worker.ts', import.meta.url)

function startWorker(job: WorkerJob): { worker: Worker; result: Promise<unknown> } {
  const worker = new Worker(workerUrl, { workerData: job })
  const result = new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before replying`)))
  })
  return { worker, result }
}

async function runWorker<T>(job: WorkerJob): Promise<T> {
  const { worker, result } = startWorker(job)
  try {
    return (await result) as T
  } finally {
    await worker.terminate()
  }
}

function ctrlOf(sab: SharedArrayBuffer): Int32Array {
  return new Int32Array(sab, 0, CONTROL_BYTES / 4)
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(1)
}

function sameStream(t: import('ava').ExecutionContext, got: StreamResult, sent: StreamResult): void {
  t.deepEqual(got.errors, [])
  t.is(got.count, sent.count)
  t.is(got.crc, sent.crc, 'running crc32 over every payload byte, in order')
}

interface Scenario {
  title: string
  count: number
  soakCount: number
  capacity: number
  maxLen?: number
  batchMax: number
  producerSlow?: number
  consumerSlow?: number
  maxRecords?: number
  spinUs?: number
}

const scenarios: Scenario[] = [
  // The main stress run: random lengths up to the ring's max, random batches.
  {
    title: 'random records, producer on main, 64 KiB ring',
    count: 2_000_000,
    soakCount: 20_000_000,
    capacity: 1 << 16,
    batchMax: 64,
  },
  // Tiny ring: the ring is constantly full and empty, and wraps every few records.
  {
    title: 'full/empty races on a 1 KiB ring',
    count: 200_000,
    soakCount: 5_000_000,
    capacity: 1024,
    batchMax: 4,
    maxRecords: 3,
  },
  {
    title: 'producer faster than consumer',
    count: 100_000,
    soakCount: 2_000_000,
    capacity: 1 << 14,
    maxLen: 200,
    batchMax: 16,
    consumerSlow: 300,
  },
  {
    title: 'consumer faster than producer, publish every record',
    count: 100_000,
    soakCount: 2_000_000,
    capacity: 1 << 14,
    maxLen: 200,
    batchMax: 1,
    producerSlow: 300,
  },
  {
    title: 'consumer polls before sleeping (spinUs)',
    count: 100_000,
    soakCount: 2_000_000,
    capacity: 1 << 14,
    maxLen: 500,
    batchMax: 4,
    spinUs: 50,
  },
]

for (const s of scenarios) {
  test(`main → worker: ${s.title}`, async (t) => {
    const sab = createRing(s.capacity)
    const p = new RingProducer(sab)
    const stream = { seed: (Math.random() * 2 ** 32) >>> 0, maxLen: s.maxLen ?? p.maxRecordBytes }
    t.log(`seed ${stream.seed}`)
    const { worker, result } = startWorker({
      role: 'consume',
      sab,
      stream,
      mode: 'sync',
      slowRounds: s.consumerSlow,
      maxRecords: s.maxRecords,
      spinUs: s.spinUs,
    })
    try {
      const sent = await produce(p, {
        stream,
        count: SOAK ? s.soakCount : s.count,
        batchMax: s.batchMax,
        slowRounds: s.producerSlow,
      })
      sameStream(t, (await result) as StreamResult, sent)
      t.log(`producer waited for space ${sent.fullWaits} times`)
    } finally {
      await worker.terminate()
    }
  })
}

test('worker → main: the main thread consumes with waitAsync', async (t) => {
  const sab = createRing(1 << 14)
  const stream = { seed: (Math.random() * 2 ** 32) >>> 0, maxLen: 1000 }
  t.log(`seed ${stream.seed}`)
  const c = new RingConsumer(sab)
  const { worker, result } = startWorker({
    role: 'produce',
    sab,
    stream,
    count: SOAK ? 5_000_000 : 200_000,
    batchMax: 32,
  })
  try {
    const got = await consume(c, { stream, mode: 'async', maxRecords: 50 })
    sameStream(t, got, (await result) as StreamResult)
    t.true(c.closed)
  } finally {
    await worker.terminate()
  }
})

test('worker → worker, counters crossing 2^31 and 2^32', async (t) => {
  for (const startIndex of [2 ** 31 - 4096, 2 ** 32 - 4096]) {
    const sab = createRing(4096, { startIndex })
    const stream = { seed: (Math.random() * 2 ** 32) >>> 0, maxLen: 2040 }
    t.log(`seed ${stream.seed} start ${startIndex}`)
    const [got, sent] = await Promise.all([
      runWorker<StreamResult>({ role: 'consume', sab, stream, mode: 'sync' }),
      runWorker<StreamResult>({ role: 'produce', sab, stream, count: 20_000, batchMax: 8 }),
    ])
    sameStream(t, got, sent)
  }
})

test('one doorbell shared by two rings: a single consumer sleeps on one word', async (t) => {
  const doorbell = createDoorbell()
  const sabs = [createRing(1 << 12), createRing(1 << 16)]
  const streams = sabs.map(() => ({ seed: (Math.random() * 2 ** 32) >>> 0, maxLen: 1500 }))
  t.log(`seeds ${streams.map((s) => s.seed)}`)
  const count = SOAK ? 2_000_000 : 100_000
  const consumer = startWorker({ role: 'consume-doorbell', sabs, streams, doorbell })
  try {
    const sent = await Promise.all([
      runWorker<StreamResult>({
        role: 'produce',
        sab: sabs[0]!,
        stream: streams[0]!,
        count,
        batchMax: 3,
        doorbell,
      }),
      // Slower, with every-record publishes: the consumer keeps going to sleep between them.
      runWorker<StreamResult>({
        role: 'produce',
        sab: sabs[1]!,
        stream: streams[1]!,
        count: count / 10,
        batchMax: 1,
        slowRounds: 2000,
        doorbell,
      }),
    ])
    const got = (await consumer.result) as StreamResult[]
    sameStream(t, got[0]!, sent[0]!)
    sameStream(t, got[1]!, sent[1]!)
    t.log(`consumer slept on the doorbell ${got[0]!.fullWaits} times`)
    t.true(Atomics.load(doorbell, 0) > 0)
  } finally {
    await consumer.worker.terminate()
  }
})

test('close while the consumer is blocked in wait(): it wakes, drains, sees closed', async (t) => {
  const sab = createRing(4096)
  const ctrl = ctrlOf(sab)
  const { worker, result } = startWorker({ role: 'wait-log', sab })
  try {
    await until(() => Atomics.load(ctrl, DATA_WAITER) === 1) // raised just before Atomics.wait
    const p = new RingProducer(sab)
    p.tryWrite(1, 1, new Uint8Array(3))
    p.publish()
    p.tryWrite(1, 2, new Uint8Array(3))
    p.tryWrite(1, 3, new Uint8Array(3))
    p.close() // publishes 2 and 3, then END
    const log = (await result) as (string | number)[]
    t.is(log.at(-2), 'closed')
    t.is(log.at(-1), 'closed-getter')
    t.deepEqual(
      log.filter((x) => typeof x === 'number'),
      [1, 2, 3],
    )
  } finally {
    await worker.terminate()
  }
})

test('close with nothing written wakes a blocked consumer', async (t) => {
  const sab = createRing(4096)
  const ctrl = ctrlOf(sab)
  const { worker, result } = startWorker({ role: 'wait-log', sab })
  try {
    await until(() => Atomics.load(ctrl, DATA_WAITER) === 1)
    new RingProducer(sab).close()
    t.deepEqual(await result, ['closed', 'closed-getter'])
  } finally {
    await worker.terminate()
  }
})

for (const how of ['wait', 'waitAsync', 'waitForSpace'] as const) {
  test(`terminate() reaches a worker blocked in ${how}`, async (t) => {
    const sab = createRing(4096)
    const ctrl = ctrlOf(sab)
    const worker = new Worker(workerUrl, { workerData: { role: 'block', sab, how } satisfies WorkerJob })
    const messages: unknown[] = []
    worker.on('message', (m) => messages.push(m))
    await once(worker, 'message')
    const flag = how === 'waitForSpace' ? SPACE_WAITER : DATA_WAITER
    await until(() => Atomics.load(ctrl, flag) === 1)
    await sleep(20) // let it reach the Atomics.wait / waitAsync itself
    t.is(await worker.terminate(), 1)
    t.deepEqual(messages, ['blocking'], 'never unblocked: the wait itself was interrupted')
  })
}
