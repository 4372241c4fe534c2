#!/usr/bin/env node
// The `module-ingest` command. Node 24 runs this TypeScript file directly (type stripping).
import { run } from './program.ts'

process.exitCode = await run(process.argv)
