import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import type { S3SubscriberConfig } from './config.ts'

/**
 * The S3 client for one subscriber instance. The SDK's own retries are kept short
 * (`sdkMaxAttempts`, default 2): the subscriber's offline backoff and the runtime's redelivery
 * are the long-term retry, and a request must fail fast enough to stay inside one handle() call.
 */
export function createS3Client(c: S3SubscriberConfig): S3Client {
  const config: S3ClientConfig = {
    region: c.region,
    forcePathStyle: c.forcePathStyle,
    maxAttempts: c.sdkMaxAttempts,
    requestChecksumCalculation: c.requestChecksumCalculation,
    responseChecksumValidation: c.responseChecksumValidation,
    requestHandler: { connectionTimeout: c.connectTimeoutMs, requestTimeout: c.requestTimeoutMs },
  }
  if (c.endpoint !== undefined) config.endpoint = c.endpoint
  if (c.credentials !== undefined) config.credentials = { ...c.credentials }
  if (c.profile !== undefined) config.profile = c.profile
  return new S3Client(config)
}
