import net from 'node:net'
import test from 'ava'
import { decide, freePort, requireService } from '../src/index.ts'

test('requireService: run when something listens', async (t) => {
  const server = net.createServer((s) => s.destroy())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  const decision = await requireService({ name: 'dummy', host: '127.0.0.1', port })
  t.is(decision.mode, 'run')
  t.is(decision.reason, '')
  server.close()
})

test('requireService: skip locally, fail in CI, with the reason', async (t) => {
  const port = await freePort()
  const saved = process.env.CI
  try {
    process.env.CI = 'false'
    const local = await requireService({ name: 'dummy', host: '127.0.0.1', port })
    t.is(local.mode, 'skip')
    t.regex(local.reason, /unreachable \(ECONNREFUSED\)/)
    process.env.CI = 'true'
    const ci = await requireService({ name: 'dummy', host: '127.0.0.1', port })
    t.is(ci.mode, 'fail')
  } finally {
    if (saved === undefined) delete process.env.CI
    else process.env.CI = saved
  }
})

test('gate declares run, skip or fail tests', (t) => {
  const calls: string[] = []
  const fake = Object.assign((title: string) => calls.push(`run:${title}`), {
    serial: (title: string) => calls.push(`serial:${title}`),
    skip: (title: string) => calls.push(`skip:${title}`),
  }) as never
  decide('svc', '').gate(fake)('a', () => {})
  decide('svc', '')
    .gate(fake)
    .serial('b', () => {})
  const saved = process.env.CI
  process.env.CI = 'true'
  decide('svc', 'down').gate(fake)('c', () => {})
  process.env.CI = 'false'
  decide('svc', 'down').gate(fake)('d', () => {})
  if (saved === undefined) delete process.env.CI
  else process.env.CI = saved
  t.deepEqual(calls, ['run:a', 'serial:b', 'run:c', 'skip:d [needs svc: down]'])
})
