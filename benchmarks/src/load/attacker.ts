/**
 * A child process running the memory attacks of issue 11 (@module-ingest/testing `startAttack`)
 * against a server, so that the attacker's event loop never slows the measured client's.
 * argv[2]: AttackOptions as JSON. Sends `{ code: 'READY' }` once the first wave is in; on
 * `{ code: 'STOP' }` closes every attacking socket and replies `{ code: 'STOPPED', outcomes, opened }`.
 */
import { type AttackOptions, startAttack } from '@module-ingest/testing'

const attack = startAttack(JSON.parse(process.argv[2]!) as AttackOptions)
await attack.ready
process.send!({ code: 'READY', opened: attack.opened() })
process.on('message', async (m: { code?: string }) => {
  if (m.code !== 'STOP') return
  await attack.stop()
  process.send!({ code: 'STOPPED', outcomes: attack.outcomes(), opened: attack.opened() }, () =>
    process.exit(0),
  )
})
// The benchmark died or was interrupted: a standing attack must not outlive it.
process.on('disconnect', () => process.exit(0))
