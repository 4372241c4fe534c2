export type { FailureKind } from './classify.ts'
export { classifyS3Error, describeS3Error } from './classify.ts'
export type { S3SubscriberConfig, S3SubscriberOptions } from './config.ts'
export { extensionOf, parseS3Config, s3ConfigSchema } from './config.ts'
export type { Compression, DecodedRecord, ObjectFormat } from './encode.ts'
export { decodeRecords, decompress } from './encode.ts'
export {
  MI_ERR_S3_BUCKET_FATAL,
  MI_ERR_S3_KEY_TEMPLATE,
  MI_ERR_S3_NOT_INITIALIZED,
  MI_ERR_S3_UNAVAILABLE,
  MI_ERR_S3_UPLOAD_FAILED,
} from './errors.ts'
export type { CompiledKey, LsnRange } from './key.ts'
export { compileKey, DEFAULT_KEY_TEMPLATE, keyTemplateProblem, LSN_DIGITS } from './key.ts'
export { default, version } from './subscriber.ts'
