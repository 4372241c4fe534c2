import { execFileSync } from 'node:child_process'
import { closeSync, fdatasyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { availableParallelism, release, totalmem } from 'node:os'
import { join } from 'node:path'

/** What the numbers were measured on; printed with every table (BENCHMARKS.md "Machine"). */
export interface MachineInfo {
  nproc: number
  cpu_model: string
  memory_gib: number
  disk: string
  kernel: string
  node: string
  /** A 4 KiB write + fdatasync on the scratch disk, repeated: the floor of any durable ACK. */
  fdatasync_p50_us: number
  fdatasync_p99_us: number
  nats_server: string
  redis_server: string
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000 }).trim()
  } catch {
    return ''
  }
}

function diskOf(dir: string): string {
  // `df` names the device and filesystem; sysfs says whether the kernel thinks it is rotational.
  const line = sh('df', ['-PT', dir]).split('\n')[1]?.split(/\s+/) ?? []
  const [device = '?', fstype = '?', size = '0'] = line
  const base = device.replace('/dev/', '').replace(/\d+$/, '')
  let kind = ''
  try {
    kind =
      readFileSync(`/sys/block/${base}/queue/rotational`, 'utf8').trim() === '1'
        ? 'rotational'
        : 'non-rotational'
  } catch {}
  const gib = Math.round(Number(size) / 1024 ** 2)
  return `${device} ${fstype} ${gib} GiB${kind ? ` ${kind}` : ''}${base.startsWith('vd') ? ' (virtio)' : ''}`
}

/** p50/p99 of `rounds` × (4 KiB pwrite + fdatasync) in a fresh file under `dir`. */
export function fdatasyncProbe(dir: string, rounds = 200): { p50_us: number; p99_us: number } {
  const file = join(dir, `.fdatasync-probe-${process.pid}`)
  const fd = openSync(file, 'w')
  const buf = Buffer.alloc(4096, 7)
  const us: number[] = []
  try {
    for (let i = 0; i < rounds; i++) {
      writeSync(fd, buf, 0, buf.length, i * 4096)
      const t = performance.now()
      fdatasyncSync(fd)
      us.push((performance.now() - t) * 1000)
    }
  } finally {
    closeSync(fd)
    rmSync(file, { force: true })
  }
  us.sort((a, b) => a - b)
  const at = (p: number) => Math.round(us[Math.min(us.length - 1, Math.floor((p / 100) * us.length))]!)
  return { p50_us: at(50), p99_us: at(99) }
}

export function machineInfo(scratch: string, quick: boolean): MachineInfo {
  const cpuinfo = (() => {
    try {
      return readFileSync('/proc/cpuinfo', 'utf8')
    } catch {
      return ''
    }
  })()
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown'
  const probe = fdatasyncProbe(scratch, quick ? 50 : 200)
  return {
    nproc: availableParallelism(),
    cpu_model: model,
    memory_gib: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    disk: diskOf(scratch),
    kernel: release(),
    node: process.version,
    fdatasync_p50_us: probe.p50_us,
    fdatasync_p99_us: probe.p99_us,
    nats_server:
      sh('/usr/sbin/nats-server', ['--version']) || sh('nats-server', ['--version']) || 'not found',
    redis_server: (sh('redis-server', ['--version']) || 'not found').replace(/ sha=.*$/, ''),
  }
}
