export type { CodeScan, Site } from './error-codes.ts'
export { scanErrorCodes } from './error-codes.ts'
export type { DocCode, DocWireCode } from './errors-doc.ts'
export { docErrorRows, docWireRows, MIP_SECTION } from './errors-doc.ts'
export type { Broken } from './links.ts'
export { brokenLinks, markdownFiles } from './links.ts'
export type { Heading, Line, Link, Row } from './markdown.ts'
export {
  anchors,
  githubSlug,
  headings,
  isExternal,
  links,
  proseLines,
  tableCells,
  tableRows,
} from './markdown.ts'
export type { Workspace } from './repo.ts'
export { lineOf, rel, repoRoot, tsFiles, workspaces } from './repo.ts'
export { type Rewrite, type RunnableBlock, rewriteBlock, runnableBlocks } from './runnable.ts'
