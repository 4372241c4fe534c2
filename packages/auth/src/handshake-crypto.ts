// MIP/1 handshake maths (PROTOCOL.md "Handshake") lives in @module-ingest/protocol; one definition.
export { hmacProof, sessionKey } from '@module-ingest/protocol'
