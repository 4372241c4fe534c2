import { createError } from '@module-ingest/errors'

// ── credentials file ──────────────────────────────────────────────────────────
export const MI_ERR_AUTH_CREDENTIALS_INVALID = createError<[string, string]>(
  'MI_ERR_AUTH_CREDENTIALS_INVALID',
  'credentials file %s is invalid: %s',
)
export const MI_ERR_AUTH_CREDENTIALS_READ = createError<[string, string]>(
  'MI_ERR_AUTH_CREDENTIALS_READ',
  'cannot read credentials file %s: %s',
)
export const MI_ERR_AUTH_CREDENTIALS_LOCKED = createError<[string, string]>(
  'MI_ERR_AUTH_CREDENTIALS_LOCKED',
  'credentials file %s is locked by another writer (remove %s.lock if no writer is running)',
)

// ── token management ──────────────────────────────────────────────────────────
export const MI_ERR_AUTH_CREDENTIAL_NOT_FOUND = createError<[string]>(
  'MI_ERR_AUTH_CREDENTIAL_NOT_FOUND',
  'no credential with id or module %s',
)
export const MI_ERR_AUTH_CREDENTIAL_EXISTS = createError<[string]>(
  'MI_ERR_AUTH_CREDENTIAL_EXISTS',
  'a credential for %s already exists (rotate or revoke it instead)',
)
export const MI_ERR_AUTH_OPTION_INVALID = createError<[string, string]>(
  'MI_ERR_AUTH_OPTION_INVALID',
  'options.%s is invalid: %s',
)

// ── TLS ───────────────────────────────────────────────────────────────────────
export const MI_ERR_AUTH_TLS_INVALID = createError<[string]>(
  'MI_ERR_AUTH_TLS_INVALID',
  'TLS material is unusable: %s',
)
