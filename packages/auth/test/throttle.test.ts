import test from 'ava'
import { addressKeys, FailureThrottle, RateLimiter, TokenBucket } from '../src/internal.ts'

function clock(start = 1_000_000) {
  const c = { now: start, fn: () => c.now }
  return c
}

test('default throttle allows 20 failures a minute per address (MIP/1 RATE_LIMITED floor), then refuses', (t) => {
  const c = clock()
  const th = new FailureThrottle({ now: c.fn })
  for (let i = 0; i < 20; i++) {
    t.false(th.check('10.0.0.1'), `attempt ${i + 1}`)
    th.fail('10.0.0.1')
    c.now += 1000
  }
  t.true(th.check('10.0.0.1'))
  t.false(th.check('10.0.0.2'))
  // The oldest failure was at start; it leaves the window 60 s later.
  t.is(th.retryAfterMs('10.0.0.1'), 1_000_000 + 60_000 - c.now)
  c.now = 1_000_000 + 60_000
  t.false(th.check('10.0.0.1'))
  th.fail('10.0.0.1')
  t.true(th.check('10.0.0.1'))
})

test('sliding, not fixed: a burst at a window edge is not doubled', (t) => {
  const c = clock()
  const th = new FailureThrottle({ now: c.fn, maxFailures: 5, windowMs: 1000 })
  c.now += 990
  for (let i = 0; i < 5; i++) th.fail('a')
  c.now += 20 // a fixed window would have reset here
  t.true(th.check('a'))
  c.now += 980
  t.false(th.check('a'))
})

test('success forgives the address', (t) => {
  const th = new FailureThrottle({ maxFailures: 3 })
  for (let i = 0; i < 3; i++) th.fail('192.0.2.1')
  t.true(th.check('192.0.2.1'))
  th.succeed('192.0.2.1')
  t.false(th.check('192.0.2.1'))
})

test('network cap: a /24 together gets networkMaxFailures, not 254 × maxFailures', (t) => {
  const c = clock()
  const th = new FailureThrottle({ now: c.fn, networkMaxFailures: 100 })
  let allowed = 0
  for (let host = 1; host <= 254; host++) {
    for (let i = 0; i < 20; i++) {
      if (th.check(`198.51.100.${host}`)) continue
      allowed++
      th.fail(`198.51.100.${host}`)
    }
  }
  t.is(allowed, 100)
  t.true(th.check('198.51.100.254'))
  t.false(th.check('198.51.101.1'))
  // Success by one address does not reopen the network.
  th.succeed('198.51.100.1')
  t.true(th.check('198.51.100.1'))
})

test('IPv6 is throttled per /64: rotating the interface id does not help', (t) => {
  const th = new FailureThrottle({ maxFailures: 3, networkMaxFailures: Number.POSITIVE_INFINITY })
  th.fail('2001:db8:1:2::1')
  th.fail('2001:db8:1:2:ffff::9')
  th.fail('2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd')
  t.true(th.check('2001:db8:1:2::42'))
  t.false(th.check('2001:db8:1:3::1'))
})

test('address keys: v4, v4-mapped v6, v6 forms, zones, junk', (t) => {
  t.deepEqual(addressKeys('10.1.2.3'), { host: '10.1.2.3', network: '10.1.2.0/24' })
  t.deepEqual(addressKeys('::ffff:10.1.2.3'), { host: '10.1.2.3', network: '10.1.2.0/24' })
  t.deepEqual(addressKeys('::ffff:a01:203'), { host: '10.1.2.3', network: '10.1.2.0/24' })
  t.deepEqual(addressKeys('::1'), { host: '0:0:0:0::/64', network: '0:0:0::/48' })
  t.deepEqual(addressKeys('fe80::1%eth0'), { host: 'fe80:0:0:0::/64', network: 'fe80:0:0::/48' })
  t.deepEqual(addressKeys('2001:DB8::'), { host: '2001:db8:0:0::/64', network: '2001:db8:0::/48' })
  t.deepEqual(addressKeys(undefined), { host: 'unknown', network: 'unknown' })
  t.is(addressKeys('999.1.1.1').host, '999.1.1.1')
  t.is(addressKeys('x'.repeat(500)).host.length, 64)
  t.is(addressKeys('1:2:3:4:5:6:7:8:9').host, '1:2:3:4:5:6:7:8:9')
})

test('memory is bounded: at most maxTracked addresses and networks, oldest evicted', (t) => {
  const th = new FailureThrottle({ maxTracked: 1000, maxFailures: 2 })
  for (let i = 0; i < 20_000; i++) th.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
  t.deepEqual(th.size, { addresses: 1000, networks: 79 }) // 20 000 addresses span 79 /24s
  // The most recent survive; the earliest were forgotten.
  th.fail('10.0.78.31') // i = 19999 again: now at the limit
  t.true(th.check('10.0.78.31'))
  th.fail('10.0.0.0')
  t.false(th.check('10.0.0.0'), 'evicted address starts over')
})

test('options are validated', (t) => {
  t.throws(() => new FailureThrottle({ maxFailures: 0 }), { code: 'MI_ERR_AUTH_OPTION_INVALID' })
  t.throws(() => new FailureThrottle({ networkMaxFailures: Number.NaN }), {
    code: 'MI_ERR_AUTH_OPTION_INVALID',
  })
  t.throws(() => new TokenBucket({ ratePerSec: 0 }), { code: 'MI_ERR_AUTH_OPTION_INVALID' })
})

test('token bucket: burst passes, then the pause covers the debt', (t) => {
  const c = clock()
  const b = new TokenBucket({ ratePerSec: 1000, burst: 500, now: c.fn })
  t.is(b.take(500), 0)
  t.is(b.take(250), 250) // 250 units of debt at 1000/s
  c.now += 250
  t.is(b.take(0), 0)
  c.now += 10_000
  t.is(b.tokens, 500) // refill stops at the burst size
})

test('rate limiter: longest pause of the module and address limits; keys bounded', (t) => {
  const c = clock()
  const rl = new RateLimiter({
    perModule: { bytesPerSec: 1000 },
    perAddress: { msgsPerSec: 10 },
    maxKeys: 3,
    now: c.fn,
  })
  t.is(rl.take({ module: 'm', address: 'a', bytes: 1000, msgs: 1 }), 0)
  t.is(rl.take({ module: 'm', address: 'a', bytes: 500, msgs: 1 }), 500)
  t.is(rl.take({ module: 'n', address: 'a', bytes: 1, msgs: 18 }), 1000) // 8 msgs left of 10, 10 in debt at 10/s
  for (const m of ['x', 'y', 'z', 'w']) rl.take({ module: m, bytes: 1, msgs: 1 })
  t.is(rl.size.modules, 3)
  t.is(new RateLimiter().take({ module: 'm', bytes: 1e9, msgs: 1e9 }), 0)
})
