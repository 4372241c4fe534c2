/**
 * What an S3 failure means for the batch:
 *
 * - `unavailable`: the store cannot be reached or is struggling: connection refused/reset, DNS
 *   (ENOTFOUND, EAI_AGAIN), timeouts, 5xx, 503 SlowDown, 429/throttling, 400 RequestTimeout.
 *   Back off and retry forever; never dead-letter.
 * - `config`: the request reached S3 and S3 says this configuration cannot work: AccessDenied,
 *   NoSuchBucket, bad keys or signature, wrong region, no credentials found. Retrying at full
 *   speed would only be a retry storm: fail the subscriber and re-check slowly.
 * - `rejected`: anything else S3 refused (4xx): the batch's own problem, counts as an attempt.
 */
export type FailureKind = 'unavailable' | 'config' | 'rejected'

const kConfigCodes = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'AccountProblem',
  'AuthorizationHeaderMalformed',
  'ExpiredToken',
  'InvalidAccessKeyId',
  'InvalidBucketName',
  'InvalidClientTokenId',
  'InvalidToken',
  'NoSuchBucket',
  'NotSignedUp',
  'PermanentRedirect',
  'SignatureDoesNotMatch',
  'UnauthorizedAccess',
  // Raised by the SDK before any request: nothing in the provider chain.
  'CredentialsProviderError',
])

const kUnavailableCodes = new Set([
  'RequestTimeout',
  'RequestTimeTooSkewed', // a clock that jumped (edge hosts without NTP at boot): transient
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'ServiceUnavailable',
  'InternalError',
  'TimeoutError',
  'RequestTimeoutException',
])

const kNetCodes =
  /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ENETDOWN|EHOSTDOWN|UND_ERR_\w+)$/

interface SdkError {
  name?: string
  code?: string
  Code?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
  $retryable?: unknown
  cause?: unknown
}

export function codeOf(err: unknown): string {
  const e = (err ?? {}) as SdkError
  return e.Code ?? (typeof e.code === 'string' ? e.code : undefined) ?? e.name ?? 'Error'
}

export function statusOf(err: unknown): number | undefined {
  return ((err ?? {}) as SdkError).$metadata?.httpStatusCode
}

export function classifyS3Error(err: unknown): FailureKind {
  const e = (err ?? {}) as SdkError
  const names = [e.name, e.Code, typeof e.code === 'string' ? e.code : undefined]
  if (names.some((n) => n !== undefined && kConfigCodes.has(n))) return 'config'
  if (names.some((n) => n !== undefined && (kUnavailableCodes.has(n) || kNetCodes.test(n))))
    return 'unavailable'
  const status = e.$metadata?.httpStatusCode
  if (status === 401 || status === 403) return 'config'
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return 'unavailable'
  // An SDK error without an HTTP status: the request never got an answer (socket errors, request
  // timeouts). A bug of ours (a TypeError, no $metadata) must not be retried forever: 'rejected'.
  if (status === undefined && e.$metadata !== undefined) return 'unavailable'
  if (e.cause !== undefined && e.cause !== err)
    return classifyS3Error(e.cause) === 'unavailable' ? 'unavailable' : 'rejected'
  return 'rejected'
}

/** One line for logs and error messages: `NoSuchBucket (404): The specified bucket does not exist`. */
export function describeS3Error(err: unknown): string {
  const status = statusOf(err)
  const msg = ((err ?? {}) as SdkError).message ?? String(err)
  return `${codeOf(err)}${status === undefined ? '' : ` (${status})`}: ${msg}`
}

/** An S3 error and the key (or step, like `(HeadBucket)`) it happened at, for the log line operators search for. */
export class StepError extends Error {
  key: string
  constructor(key: string, cause: unknown) {
    super(describeS3Error(cause), { cause })
    this.key = key
  }
}
