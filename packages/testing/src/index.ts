// Internal/unsupported: test helpers shared by module-ingest packages. One concern per file;
// add new helpers (e.g. starting the ingest server) as their own files and re-export them here.
export {
  type Attack,
  type AttackKind,
  type AttackOptions,
  type AttackOutcomes,
  startAttack,
} from './attack.ts'
export { captureLogger, type LogLine } from './capture-logger.ts'
export { MI_ERR_TESTING_BINARY_MISSING, MI_ERR_TESTING_PROCESS_START } from './errors.ts'
export { MipSocket, type ReceivedFrame } from './mip-socket.ts'
export type { NatsServer, NatsServerOptions } from './nats-server.ts'
export { findNatsServer, requireNatsServerBinary, startNatsServer } from './nats-server.ts'
export { freePort, probeTcp } from './ports.ts'
export { noopMetrics, type QuietLogger, quietLogger } from './quiet.ts'
export { type ServerProcess, type ServerProcessOptions, startServerProcess } from './server-process.ts'
export type { GatedTest, ServiceDecision, ServiceOptions } from './service.ts'
export { decide, requireService } from './service.ts'
export { startTcpProxy, type TcpProxy } from './tcp-proxy.ts'
export { createTestPki, type IssuedCert, type IssueOptions, type TestPki } from './tls-certs.ts'
