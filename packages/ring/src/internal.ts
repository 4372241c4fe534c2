// Everything, for sibling packages' tests and benches: the public surface is index.ts.
export * from './backlog.ts'
export * from './consumer.ts'
export * from './create-ring.ts'
export * from './errors.ts'
export * from './layout.ts'
export * from './loop.ts'
export * from './producer.ts'
export * from './wait.ts'
