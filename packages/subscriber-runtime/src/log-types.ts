// The log's reader, as this package consumes it (one definition: @module-ingest/log's own types).
export type {
  CommittedGroup,
  GroupCursor as LogCursor,
  Groups as LogGroups,
  Reader as LogReader,
  StoredRecord,
} from '@module-ingest/log'
