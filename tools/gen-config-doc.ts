// Regenerate docs/configuration.md from the config schema:  node tools/gen-config-doc.ts
// packages/config/test/doc.test.ts fails when the committed file is stale.
import { writeFileSync } from 'node:fs'
import { renderConfigMarkdown } from '../packages/config/src/index.ts'

const out = new URL('../docs/configuration.md', import.meta.url)
writeFileSync(out, renderConfigMarkdown())
console.log(`wrote ${out.pathname}`)
