#!/usr/bin/env node
// The `module-ingest-queue-worker` command. Node 24 runs this TypeScript file directly.
import { run } from './program.ts'

process.exitCode = await run(process.argv)
