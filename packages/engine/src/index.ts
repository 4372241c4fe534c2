// The public surface of @module-ingest/engine: re-exports only.
export type { Server, ServerStats, StartOptions } from './server.ts'
export { startServer } from './server.ts'
