// The page in a real browser: playwright-core (no browser download) drives Debian's chromium
// against a real server under a little load. Skips loudly without chromium; fails in CI.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decide, freePort, startServerProcess } from '@module-ingest/testing'
import test from 'ava'
import { chromium } from 'playwright-core'
import { startLoad } from './load.ts'

const kChromium = process.env.MI_CHROMIUM ?? '/usr/bin/chromium'
const gate = decide(
  'chromium',
  existsSync(kChromium)
    ? ''
    : `${kChromium} is missing (apt-get install -y chromium; see tools/ci/services.sh)`,
)
const kArtifacts = fileURLToPath(new URL('../test-artifacts/', import.meta.url))

gate.gate(test)('the page draws live data from a real server, without console errors', async (t) => {
  t.timeout(120_000)
  const cwd = await mkdtemp(join(tmpdir(), 'mi-dash-browser-'))
  const profile = join(cwd, 'profile')
  const metricsPort = await freePort()
  const server = await startServerProcess({
    dataDir: join(cwd, 'data'),
    set: {
      'telemetry.metrics.listen': `127.0.0.1:${metricsPort}`,
      subscribers: JSON.stringify([
        { name: 'anomaly-1', use: '@module-ingest/subscriber-example', streams: ['telemetry.*'] },
      ]),
    },
  })
  const load = await startLoad(server.port, await server.devToken())
  // A fresh profile per run (playwright takes --user-data-dir only this way).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: kChromium,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
    timeout: 90_000,
  })
  t.teardown(async () => {
    await browser.close().catch(() => {})
    await load.stop()
    server.kill('SIGKILL')
    await rm(cwd, { recursive: true, force: true })
  })
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text())
  })
  page.on('pageerror', (e) => problems.push(e.message))

  await page.goto(`http://127.0.0.1:${metricsPort}/dashboard`, { timeout: 60_000 })
  // A few samples with records in them, and the subscriber row.
  // (Page code as strings: this package's TypeScript has no DOM types.)
  await page.waitForFunction(
    'Number(document.body.dataset.samples ?? 0) >= 4 && Number(document.body.dataset.recordsTotal ?? 0) > 0',
    undefined,
    { timeout: 60_000, polling: 200 },
  )
  await page.waitForSelector('#subscribers tbody tr', { timeout: 30_000 })

  // Every chart canvas has drawn pixels (uPlot draws series and axes into one canvas per chart).
  const canvases: number[] = await page.evaluate(`[...document.querySelectorAll('canvas')].map((c) => {
    const ctx = c.getContext('2d')
    if (!ctx || c.width === 0 || c.height === 0) return 0
    const px = ctx.getImageData(0, 0, c.width, c.height).data
    let painted = 0
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++
    return painted
  })`)
  t.true(canvases.length >= 13, `canvases: ${canvases.length}`)
  t.true(
    canvases.every((n) => n > 0),
    `blank canvas among ${canvases.join(',')}`,
  )

  // The number shown matches /metrics within tolerance (the counter only grows; the page lags a sample).
  const shown = Number(await page.textContent('#v-records-total'))
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
  const line = metrics.split('\n').find((l) => l.startsWith('mi_records_appended_total '))
  const scraped = Number(line?.split(' ')[1])
  t.true(shown > 0 && shown <= scraped, `page ${shown}, /metrics ${scraped}`)
  t.regex((await page.textContent('#subscribers tbody')) ?? '', /anomaly-1/)
  // Percentile panels are per sample interval, and say so.
  const titles = (await page.textContent('#panels')) ?? ''
  t.regex(titles, /ack latency \(ms\) p50\/p99\/p99\.9 per second/)
  t.regex(titles, /flush latency \(ms\) p50\/p99\/p99\.9 per second/)
  // Every series issue 19 lists has its panel (state and last error are in the subscriber table).
  for (const title of [
    'records/s',
    'MB/s',
    'group commit (records) p50/p99/p99.9 per second',
    'connections and sessions',
    'log size',
    'log segments',
    'oldest record age',
    'disk free',
    'ring usage',
    'subscriber lag',
    'subscriber delivery',
  ])
    t.true(titles.includes(title), title)

  await mkdir(kArtifacts, { recursive: true })
  await page.screenshot({ path: join(kArtifacts, 'dashboard.png'), fullPage: true })
  t.deepEqual(problems, [], 'no console errors')
})
