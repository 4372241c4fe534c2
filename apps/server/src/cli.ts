#!/usr/bin/env node
// The `module-ingest` command. Node 24 runs this TypeScript file directly (type stripping).
import module from 'node:module'
import path from 'node:path'

// Cold start (issue 14): keep V8's compiled code (and the type-stripped sources) on disk across
// runs (os.tmpdir()/node-compile-cache, or $NODE_COMPILE_CACHE), so a restart does not compile
// every module again. Enabled before anything else is imported, hence the dynamic import below.
module.enableCompileCache?.()
// Worker threads (parsers, writer) get their own module loader: they pick the cache up from the
// environment they are started with (the base dir: Node adds its version subdirectory itself).
const cacheDir = module.getCompileCacheDir?.()
if (cacheDir && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = path.dirname(cacheDir)
const { run } = await import('./program.ts')

process.exitCode = await run(process.argv)
