import base from '../ava.config.base.mjs'

// One file at a time: quick.test.ts measures real rows (100 connections, 256 in flight each) and
// the other files start servers of their own; side by side on 2 cores the quick rows measured the
// contention. (That contention also exposed a real bug: a connection stuck waiting for its inbound
// share, fixed in packages/engine/src/inbound-share.ts with a deterministic test.)
export default { ...base, concurrency: 1 }
