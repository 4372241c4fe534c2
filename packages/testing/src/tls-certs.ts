/**
 * A throwaway PKI for TLS tests: one CA, then server and client certificates issued by it, all made
 * with the `openssl` CLI (EC P-256, valid for 2 days) in a temp dir. Nothing here is secret or
 * long-lived; never use it outside tests.
 */
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface IssuedCert {
  certFile: string
  keyFile: string
  cert: Buffer
  key: Buffer
  /** SHA-256 fingerprint as Node prints it (`AB:CD:…`), to compare with `getPeerCertificate()`. */
  fingerprint256: string
}

export interface IssueOptions {
  /** Subject, e.g. `/CN=sensor-tls`. Default `/CN=<name>`. */
  subject?: string
  /** subjectAltName value, e.g. `DNS:localhost,IP:127.0.0.1` or `URI:urn:module-ingest:module:x`. */
  san?: string
}

export interface TestPki {
  readonly dir: string
  readonly caFile: string
  readonly ca: Buffer
  /** Issue a certificate signed by this CA, written to `<dir>/<name>.crt` and `<dir>/<name>.key`. */
  issue(name: string, options?: IssueOptions): IssuedCert
  /** A server certificate for `localhost` / 127.0.0.1. */
  issueServer(name?: string): IssuedCert
  /** Remove the temp dir. */
  remove(): void
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' })
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** Make a CA in a fresh temp dir (or in `dir`). Needs the `openssl` command on PATH. */
export function createTestPki(options: { dir?: string; caSubject?: string } = {}): TestPki {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'mi-pki-'))
  const p = (name: string) => join(dir, name)
  openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '2',
    '-subj',
    options.caSubject ?? '/CN=mi-test-ca',
  ])
  let serial = Date.now()
  const issue = (name: string, o: IssueOptions = {}): IssuedCert => {
    const certFile = p(`${name}.crt`)
    const keyFile = p(`${name}.key`)
    openssl([
      'req',
      ...EC_KEY,
      '-keyout',
      keyFile,
      '-out',
      p(`${name}.csr`),
      '-subj',
      o.subject ?? `/CN=${name}`,
    ])
    const ext: string[] = []
    if (o.san) {
      writeFileSync(p(`${name}.ext`), `subjectAltName=${o.san}\n`)
      ext.push('-extfile', p(`${name}.ext`))
    }
    openssl([
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-set_serial',
      String(serial++),
      '-out',
      certFile,
      '-days',
      '2',
      ...ext,
    ])
    const cert = readFileSync(certFile)
    return {
      certFile,
      keyFile,
      cert,
      key: readFileSync(keyFile),
      fingerprint256: new X509Certificate(cert).fingerprint256,
    }
  }
  return {
    dir,
    caFile: p('ca.crt'),
    ca: readFileSync(p('ca.crt')),
    issue,
    issueServer: (name = 'server') =>
      issue(name, { subject: '/CN=localhost', san: 'DNS:localhost,IP:127.0.0.1' }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
