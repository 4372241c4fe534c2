import type { Scenario } from './scenario.ts'
import { attackScenarios } from './scenarios/attack.ts'
import { connectionScenarios } from './scenarios/connections.ts'
import { inflightScenarios } from './scenarios/inflight.ts'
import { latencyScenarios } from './scenarios/latency.ts'
import { microScenarios } from './scenarios/micro.ts'
import { recoveryScenario } from './scenarios/recovery.ts'
import { aiScenario } from './scenarios/sub-ai.ts'
import { indexScenario } from './scenarios/sub-index.ts'
import { kvScenarios } from './scenarios/sub-kv.ts'
import { s3Scenario } from './scenarios/sub-s3.ts'
import { subscriberLagScenario } from './scenarios/subscriber-lag.ts'
import { throughputScenarios } from './scenarios/throughput.ts'

/** Every scenario, in run order. Adding one: see benchmarks/README.md "Adding a scenario". */
export function allScenarios(): Scenario[] {
  return [
    ...throughputScenarios,
    ...inflightScenarios,
    ...latencyScenarios,
    ...connectionScenarios,
    recoveryScenario,
    subscriberLagScenario,
    aiScenario,
    s3Scenario,
    indexScenario,
    ...kvScenarios,
    ...attackScenarios,
    ...microScenarios(),
  ]
}

/**
 * Pick scenarios by name: an exact name, a group (`throughput`, `micro`), or a name prefix ending
 * at a dash (`throughput-128` → `throughput-128-c1`, `-c100`, `-c1000`). No names: the default set
 * (`--quick`'s or the full run's). Unknown names are returned for the caller to report.
 */
export function select(
  all: Scenario[],
  names: string[],
  quick: boolean,
): { chosen: Scenario[]; unknown: string[] } {
  if (names.length === 0) return { chosen: all.filter((s) => (quick ? s.quick : s.full)), unknown: [] }
  const chosen = new Set<Scenario>()
  const unknown: string[] = []
  for (const n of names) {
    const hits = all.filter((s) => s.name === n || s.group === n || s.name.startsWith(`${n}-`))
    if (hits.length === 0) unknown.push(n)
    for (const h of hits) chosen.add(h)
  }
  return { chosen: all.filter((s) => chosen.has(s)), unknown }
}
