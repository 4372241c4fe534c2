import {
  acquireRepairLock,
  listSegments,
  quarantineSegment,
  rebuildIndex,
  scanSegment,
  sealSegmentAtDamage,
  truncateSegmentTail,
  unquarantineSegment,
} from '@module-ingest/log'
import { Command } from 'commander'
import { type DirFlags, dirOptions, kExit, printJson, resolveLogDir } from '../common.ts'
import { MI_ERR_RECOVER_LOCKED } from '../errors.ts'
import { writerLock } from '../lock.ts'
import { verify } from './verify.ts'

// repair = verify, then a plan built only from the raw tools of @module-ingest/log:
//   torn tail of the last segment      → truncateSegmentTail at the first bad group
//   damage in the last segment with    → sealSegmentAtDamage: the segment is sealed as it is (no
//   intact groups after it               intact group is cut), the damage recorded as a known loss
//   corrupt group in a sealed segment  → quarantineSegment: record the loss as known (readers skip
//                                        damaged groups anyway; verify and dump then report a note)
//   quarantine entry of intact data    → unquarantineSegment (the file was restored)
//   sealed segment without its index   → rebuildIndex
// The plan is printed first and applied only with --yes. The log is never rewritten in place
// beyond a truncation, so repair cannot make a log worse than recovery on the next start would.

export type Action =
  | { kind: 'truncate'; segment: string; base: number; offset: number; dropBytes: number; durable: boolean }
  | {
      kind: 'quarantine'
      segment: string
      base: number
      offset: number
      reason: string
      fromLsn?: number
      toLsn?: number
    }
  | { kind: 'seal'; segment: string; base: number; offset: number; keepFromLsn: number; keepToLsn: number }
  | { kind: 'unquarantine'; segment: string; base: number; offset: number }
  | { kind: 'rebuild-index'; segment: string; base: number }

export function describe(a: Action): string {
  switch (a.kind) {
    case 'truncate':
      return (
        `truncate segment ${a.segment} at offset ${a.offset} (drops ${a.dropBytes} bytes of torn tail)` +
        (a.durable
          ? '\n     WARNING: the cut is before the durable end: acknowledged records are lost' +
            ` (their bytes are kept in ${a.segment}.cut-${a.offset}; the watermark, checkpoints and` +
            ' consumer groups move back to the cut)'
          : '')
      )
    case 'quarantine':
      return (
        `quarantine segment ${a.segment} at offset ${a.offset} (${a.reason}): record lsns ` +
        `${a.fromLsn ?? '?'}..${a.toLsn ?? '?'} as a known loss (readers skip the damaged group and serve the rest)`
      )
    case 'seal':
      return (
        `seal segment ${a.segment} at its damage (offset ${a.offset}): keeps the intact lsns ` +
        `${a.keepFromLsn}..${a.keepToLsn} after it, records the damage as a known loss, and starts a new segment`
      )
    case 'unquarantine':
      return `unquarantine segment ${a.segment} at offset ${a.offset}: the data there is intact again`
    case 'rebuild-index':
      return `rebuild the missing index of segment ${a.segment}`
  }
}

export async function plan(dir: string): Promise<{ actions: Action[]; unfixable: string[] }> {
  const segs = await listSegments(dir)
  const bySeg = new Map(segs.map((s) => [s.name, s]))
  const report = await verify(dir)
  const actions: Action[] = []
  const unfixable: string[] = []
  const damaged = new Set<string>()
  for (const f of report.findings) {
    const s = bySeg.get(f.segment)
    if (!s) continue
    if (f.kind === 'lsn-gap') {
      unfixable.push(`segment ${f.segment}: ${f.reason} (nothing to repair; the records are gone)`)
      continue
    }
    if (f.kind === 'in-flight') continue
    if (f.kind === 'quarantined') {
      // An index rebuilt by a scan would end at the damage: readers index a damaged segment in memory.
      damaged.add(f.segment)
      continue
    }
    if (f.kind === 'restored') {
      actions.push({ kind: 'unquarantine', segment: f.segment, base: s.base, offset: f.offset })
      continue
    }
    damaged.add(f.segment)
    // The last segment is the writer's. Intact groups after its damage: seal it there (as the
    // next server start would). Otherwise a bad group there is a torn tail: cut it as recovery
    // does. A bad header (offset 0) cannot be cut away: quarantine it.
    if (!s.sealed && f.offset > 0) {
      // One seal or cut at the first bad group covers everything after it, later findings included.
      if (actions.some((a) => (a.kind === 'truncate' || a.kind === 'seal') && a.segment === f.segment))
        continue
      const scan = await scanSegment(dir, s.base)
      const intactAfter = scan.damage.find((d) => d.toLsn !== undefined)
      if (intactAfter && scan.lastLsn !== undefined) {
        actions.push({
          kind: 'seal',
          segment: f.segment,
          base: s.base,
          offset: f.offset,
          keepFromLsn: intactAfter.toLsn! + 1,
          keepToLsn: scan.lastLsn,
        })
        continue
      }
      actions.push({
        kind: 'truncate',
        segment: f.segment,
        base: s.base,
        offset: f.offset,
        dropBytes: s.sizeBytes - f.offset,
        durable: f.kind === 'corrupt',
      })
    } else {
      const a: Action = {
        kind: 'quarantine',
        segment: f.segment,
        base: s.base,
        offset: f.offset,
        reason: f.reason,
      }
      if (f.fromLsn !== undefined) a.fromLsn = f.fromLsn
      if (f.toLsn !== undefined) a.toLsn = f.toLsn
      actions.push(a)
    }
  }
  for (const s of segs) {
    if (s.sealed && s.index !== 'sealed' && !damaged.has(s.name))
      actions.push({ kind: 'rebuild-index', segment: s.name, base: s.base })
  }
  return { actions, unfixable }
}

async function apply(dir: string, a: Action): Promise<void> {
  switch (a.kind) {
    case 'truncate':
      await truncateSegmentTail(dir, a.base, a.offset)
      return
    case 'quarantine':
      await quarantineSegment(dir, a.base, a.offset, a.reason, { fromLsn: a.fromLsn, toLsn: a.toLsn })
      return
    case 'seal': {
      const r = await sealSegmentAtDamage(dir, a.base)
      for (const d of r?.damage ?? [])
        await quarantineSegment(dir, a.base, d.offset, d.reason, {
          fromLsn: d.fromLsn,
          toLsn: d.toLsn ?? r!.nextBase - 1,
        })
      return
    }
    case 'unquarantine':
      await unquarantineSegment(dir, a.base, a.offset)
      return
    case 'rebuild-index':
      return rebuildIndex(dir, a.base)
  }
}

function refuseIfLocked(dir: string): void {
  const lock = writerLock(dir)
  if (lock.live) throw new MI_ERR_RECOVER_LOCKED(dir, lock.pid!)
}

export function repairCommand(): Command {
  return dirOptions(new Command('repair'))
    .description(
      'plan repairs (truncate torn tail, seal at damage, record damage as a known loss, rebuild indexes); apply with --yes',
    )
    .option('--yes', 'apply the plan (without it: print the plan and change nothing)')
    .option('--json', 'print the plan (and what was applied) as JSON')
    .action(async (o: DirFlags & { yes?: boolean; json?: boolean }) => {
      const dir = resolveLogDir(o)
      refuseIfLocked(dir)
      // --yes holds writer.pid from the scan to the last write: a server started meanwhile is
      // refused (MI_ERR_LOG_LOCKED) and cannot change what the plan was built from.
      const lock = o.yes ? await acquireRepairLock(dir) : undefined
      try {
        const { actions, unfixable } = await plan(dir)
        const say = (line: string) => {
          if (!o.json) process.stdout.write(`${line}\n`)
        }
        if (actions.length === 0) say('nothing to repair')
        else {
          say(`plan for ${dir}:`)
          for (const [i, a] of actions.entries()) say(`  ${i + 1}. ${describe(a)}`)
        }
        for (const u of unfixable) say(`  cannot fix: ${u}`)
        const applied: Action[] = []
        if (actions.length > 0 && !o.yes) say('dry run; re-run with --yes to apply')
        if (actions.length > 0 && o.yes) {
          for (const a of actions) {
            await apply(dir, a)
            applied.push(a)
            say(`  done: ${describe(a)}`)
          }
          say(`applied ${applied.length} action${applied.length === 1 ? '' : 's'}`)
        }
        if (o.json) printJson({ dir, dryRun: !o.yes, actions, applied, unfixable })
        process.exitCode = kExit.ok
      } finally {
        await lock?.release()
      }
    })
}
