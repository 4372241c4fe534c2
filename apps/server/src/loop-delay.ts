// The server's threads (main, reads) probe their event loop with telemetry's one helper, which
// the subscriber runtime's thread uses too: see @module-ingest/telemetry/loop-delay.
export { probeLoopDelayInto as probeLoopDelay } from '@module-ingest/telemetry/loop-delay'
