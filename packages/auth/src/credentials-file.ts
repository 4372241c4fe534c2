import { randomBytes } from 'node:crypto'
import { constants, promises as fs } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Document, parseDocument } from 'yaml'
import {
  MI_ERR_AUTH_CREDENTIALS_INVALID,
  MI_ERR_AUTH_CREDENTIALS_LOCKED,
  MI_ERR_AUTH_CREDENTIALS_READ,
} from './errors.ts'
import { type CredentialsFile, validateCredentials } from './schema.ts'

/** The credentials file holds HMAC keys in the clear: owner read/write only. */
export const CREDENTIALS_FILE_MODE = 0o600

export interface ParsedCredentials {
  readonly file: CredentialsFile
  readonly doc: Document
  readonly json: boolean
}

export function isJsonPath(path: string): boolean {
  return path.endsWith('.json')
}

/** Parse YAML (JSON is a YAML subset, so `.json` files go through the same parser) and validate. */
export function parseCredentials(text: string, source: string): ParsedCredentials {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    throw new MI_ERR_AUTH_CREDENTIALS_INVALID(source, doc.errors.map((e) => e.message).join('; '))
  }
  const result = validateCredentials(doc.toJS())
  if (!result.ok) throw new MI_ERR_AUTH_CREDENTIALS_INVALID(source, result.problems.join('; '))
  return { file: result.file, doc, json: isJsonPath(source) }
}

export async function readCredentialsText(path: string): Promise<string> {
  try {
    return await fs.readFile(path, 'utf8')
  } catch (err) {
    throw new MI_ERR_AUTH_CREDENTIALS_READ(path, (err as Error).message, { cause: err })
  }
}

export async function readCredentials(path: string): Promise<ParsedCredentials & { text: string }> {
  const text = await readCredentialsText(path)
  return { ...parseCredentials(text, path), text }
}

export function serialize(doc: Document, json: boolean): string {
  return json ? `${JSON.stringify(doc.toJS(), null, 2)}\n` : doc.toString({ lineWidth: 0 })
}

/**
 * Atomic replace: write a temp file in the same directory (created 0600, so the secret is never
 * readable by others even for a moment), fsync it, rename over the target, fsync the directory so
 * the rename itself survives a crash. Readers see the old file or the new one, never a torn one.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const fh = await fs.open(tmp, 'wx', CREDENTIALS_FILE_MODE)
  try {
    await fh.writeFile(text, 'utf8')
    // The umask may only remove bits; chmod makes 0600 exact regardless of how it was created.
    await fh.chmod(CREDENTIALS_FILE_MODE)
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await fs.rm(tmp, { force: true })
    throw err
  }
  await fh.close()
  try {
    await fs.rename(tmp, path)
  } catch (err) {
    await fs.rm(tmp, { force: true })
    throw err
  }
  const dh = await fs.open(dir, constants.O_RDONLY)
  try {
    await dh.sync()
  } finally {
    await dh.close()
  }
}

const kLockStaleMs = 30_000
const kLockWaitMs = 5_000

/**
 * Serialise read-modify-write cycles (CLI vs. server's first start) with an O_EXCL lock file.
 * A lock older than 30 s is taken to belong to a crashed writer and is broken.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`
  const deadline = Date.now() + kLockWaitMs
  for (;;) {
    try {
      const fh = await fs.open(lock, 'wx', CREDENTIALS_FILE_MODE)
      await fh.writeFile(String(process.pid))
      await fh.close()
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const stat = await fs.stat(lock).catch(() => undefined)
      if (stat && Date.now() - stat.mtimeMs > kLockStaleMs) {
        await fs.rm(lock, { force: true })
        continue
      }
      if (Date.now() > deadline) throw new MI_ERR_AUTH_CREDENTIALS_LOCKED(path, path)
      await sleep(20)
    }
  }
  try {
    return await fn()
  } finally {
    await fs.rm(lock, { force: true })
  }
}

/** Mode bits beyond 0600 (group/other access) as a warning string, or undefined. */
export async function modeWarning(path: string): Promise<string | undefined> {
  const stat = await fs.stat(path).catch(() => undefined)
  if (stat === undefined || process.platform === 'win32') return undefined
  const mode = stat.mode & 0o777
  if ((mode & 0o077) === 0) return undefined
  return `credentials file ${path} has mode ${mode.toString(8).padStart(4, '0')}; it holds secrets, chmod 600 it`
}
