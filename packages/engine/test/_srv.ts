import { startTestServer } from './fixtures/_server.ts'
const t = await startTestServer({ 'telemetry.logLevel': 'warn', 'workers.parsers': Number(process.env.P ?? 1) })
console.log(JSON.stringify({ port: t.port, token: t.token }))
process.on('SIGTERM', async () => { const st = await t.server.stats(); console.error(JSON.stringify(st.metrics.histograms.map(h=>[h.name,h.count,h.p50,h.p99]))); await t.stop(); process.exit(0) })
