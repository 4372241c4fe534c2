import { isValidModuleName, matchPattern } from '@module-ingest/protocol'

/** MIP/1 module and core names: 1..128 characters of `[A-Za-z0-9._:-]`. */
export const NAME_RE = /^[A-Za-z0-9._:-]{1,128}$/
/** A module name or a glob over module names (`*` matches any run, dots included). */
export const MODULE_PATTERN_RE = /^[A-Za-z0-9._:*-]{1,128}$/
/** `write:<pattern>`, `read:<pattern>` over stream names, or `admin` (PROTOCOL.md "Scopes"). */
export const SCOPE_RE = /^(?:admin|(?:write|read):[A-Za-z0-9._*-]{1,255})$/

/** MIP/1 module/core name check (one definition, in @module-ingest/protocol). */
export const isValidName: (name: unknown) => name is string = isValidModuleName

/**
 * Glob match where `*` matches any run of characters and everything else is literal (PROTOCOL.md
 * "Scopes"). Protocol's implementation is iterative, never a RegExp built from a pattern: module
 * names are attacker-chosen and several `.*` would backtrack polynomially.
 */
export const globMatch: (pattern: string, text: string) => boolean = matchPattern
