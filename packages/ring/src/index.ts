// The public surface of @module-ingest/ring: re-exports only.

export type {
  CreateRingOptions,
  DoorbellLoopOptions,
  LoopNext,
  RecordVisitor,
  RingBacklogOptions,
  RingConsumerOptions,
  RingProducerOptions,
  WaitResult,
} from './internal.ts'
export {
  createDoorbell,
  createRing,
  MAX_KIND,
  MI_ERR_RING_BUFFER_INVALID,
  MI_ERR_RING_CAPACITY_INVALID,
  MI_ERR_RING_CLOSED,
  MI_ERR_RING_KIND_INVALID,
  MI_ERR_RING_OPT_INVALID,
  MI_ERR_RING_RECORD_TOO_LARGE,
  MI_ERR_RING_TAG_INVALID,
  RingBacklog,
  RingConsumer,
  RingProducer,
  ringDoorbell,
  runDoorbellLoop,
  WAIT_SLICE_MS,
  waitDoorbell,
  waitDoorbellAsync,
} from './internal.ts'
