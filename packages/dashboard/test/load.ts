import { connect } from '@module-ingest/client'

/** A little steady load: one client sending small batches until stop(). */
export async function startLoad(port: number, token: string) {
  const client = await connect({ port, module: 'dash-load', auth: { token } })
  let running = true
  let sent = 0
  const loop = (async () => {
    while (running) {
      const records = Array.from({ length: 50 }, (_, i) => ({
        stream: 'telemetry.load',
        body: JSON.stringify({ i: sent + i, value: Math.random() }),
      }))
      await client.sendBatch(records)
      sent += records.length
      await new Promise((r) => setTimeout(r, 20))
    }
  })()
  return {
    sent: () => sent,
    async stop() {
      running = false
      await loop.catch(() => {})
      await client.close()
    },
  }
}
