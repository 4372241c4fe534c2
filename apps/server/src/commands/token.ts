import { createToken, listCredentials, revoke, rotate } from '@module-ingest/auth'
import { Command } from 'commander'
import { type ConfigFlags, configFromFlags, configOptions } from '../common.ts'

const collect = (v: string, prev: string[] = []) => [...prev, v]

function table(rows: string[][]): string {
  const widths: number[] = []
  for (const r of rows)
    for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i] ?? 0, (r[i] ?? '').length)
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

export function tokenCommand(): Command {
  const token = new Command('token').description('manage module credentials in the credentials file')

  token.addCommand(
    configOptions(new Command('create'))
      .description('create a credential; prints its secret once')
      .requiredOption('-m, --module <name>', 'module name or glob (sensor-*)')
      .option(
        '-s, --scope <scope>',
        'write:<pattern>, read:<pattern> or admin; repeatable (default write:*)',
        collect,
      )
      .option('-k, --kind <kind>', 'token (bearer, for TLS links) or hmac (challenge-response)', 'token')
      .option('--expires <iso>', 'expiry, ISO 8601 date-time')
      .option('--fingerprint <fp>', 'hardware fingerprint the module must present')
      .option('--require-mac', 'require per-frame MAC (hmac only)')
      .option('--comment <text>', 'free text kept with the entry')
      .option('--id <id>', 'credential id (default c_ + random hex)')
      .option('--json', 'print JSON')
      .action(
        async (
          o: ConfigFlags & {
            module: string
            scope?: string[]
            kind: 'token' | 'hmac'
            expires?: string
            fingerprint?: string
            requireMac?: boolean
            comment?: string
            id?: string
            json?: boolean
          },
        ) => {
          const config = configFromFlags(o)
          const created = await createToken(config.credentialsFile, {
            module: o.module,
            scopes: o.scope ?? ['write:*'],
            kind: o.kind,
            ...(o.expires ? { expiresAt: o.expires } : {}),
            ...(o.fingerprint ? { fingerprint: o.fingerprint } : {}),
            ...(o.requireMac ? { requireMac: true } : {}),
            ...(o.comment ? { comment: o.comment } : {}),
            ...(o.id ? { id: o.id } : {}),
          })
          // The most specific entry governs a module (packages/auth "Which entry governs a module").
          for (const ov of created.overlaps) {
            process.stderr.write(
              ov.relation === 'shadows'
                ? `warning: modules matching both ${created.module} and ${ov.module} (${ov.id}) now authenticate with ${created.id} only\n`
                : `warning: ${created.id} is shadowed by ${ov.id} (${ov.module}): modules matching both keep authenticating with ${ov.id}\n`,
            )
          }
          if (o.json) process.stdout.write(`${JSON.stringify(created)}\n`)
          else
            process.stdout.write(
              `created ${created.id} for module ${created.module} (${created.kind})\n` +
                `${created.kind === 'token' ? 'token' : 'hmac key'}: ${created.secret}\n` +
                'This secret is shown once and cannot be recovered.\n',
            )
        },
      ),
  )

  token.addCommand(
    configOptions(new Command('list'))
      .description('list credentials (never their secrets)')
      .option('--json', 'print JSON')
      .action(async (o: ConfigFlags & { json?: boolean }) => {
        const config = configFromFlags(o)
        const list = await listCredentials(config.credentialsFile)
        if (o.json) {
          process.stdout.write(`${JSON.stringify(list)}\n`)
          return
        }
        if (!list.length) {
          process.stdout.write(`no credentials in ${config.credentialsFile}\n`)
          return
        }
        const rows = [['ID', 'MODULE', 'KINDS', 'SCOPES', 'EXPIRES', 'STATE']]
        for (const c of list) {
          const state = c.disabled ? 'disabled' : c.expired ? 'expired' : 'active'
          rows.push([c.id, c.module, c.kinds.join(','), c.scopes.join(','), c.expiresAt ?? '-', state])
        }
        process.stdout.write(`${table(rows)}\n`)
      }),
  )

  token.addCommand(
    configOptions(new Command('revoke'))
      .description('remove a credential (by id, else by exact module name)')
      .argument('<id-or-module>')
      .action(async (idOrModule: string, o: ConfigFlags) => {
        const config = configFromFlags(o)
        const removed = await revoke(config.credentialsFile, idOrModule)
        process.stdout.write(`revoked ${removed.id} (module ${removed.module})\n`)
      }),
  )

  token.addCommand(
    configOptions(new Command('rotate'))
      .description('replace the secret(s) of a credential; prints the new ones once')
      .argument('<id-or-module>')
      .option('--json', 'print JSON')
      .action(async (idOrModule: string, o: ConfigFlags & { json?: boolean }) => {
        const config = configFromFlags(o)
        const r = await rotate(config.credentialsFile, idOrModule)
        if (o.json) {
          process.stdout.write(`${JSON.stringify(r)}\n`)
          return
        }
        process.stdout.write(`rotated ${r.id} (module ${r.module})\n`)
        if (r.token) process.stdout.write(`token: ${r.token}\n`)
        if (r.hmacKey) process.stdout.write(`hmac key: ${r.hmacKey}\n`)
      }),
  )
  return token
}
