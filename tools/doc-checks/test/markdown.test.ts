import test from 'ava'
import { anchors, githubSlug, isExternal, links, tableCells } from '../src/index.ts'

test('githubSlug follows GitHub: lower case, punctuation dropped, each space a hyphen', (t) => {
  t.is(githubSlug('MIP/1 wire error codes'), 'mip1-wire-error-codes')
  t.is(githubSlug('`@module-ingest/log`'), 'module-ingestlog')
  t.is(
    githubSlug('Method: `log.onError(cb)` / `log.onResume(cb)` → unsubscribe'),
    'method-logonerrorcb--logonresumecb--unsubscribe',
  )
  t.is(githubSlug('MI_ERR_LOG_CORRUPT'), 'mi_err_log_corrupt')
  t.is(githubSlug('Interface: `SubscriberDefinition<C>`'), 'interface-subscriberdefinitionc')
  t.is(githubSlug('Options <small>(all optional)</small> **bold**'), 'options-all-optional-bold')
  t.is(githubSlug('See [the spec](x.md) — v1'), 'see-the-spec--v1')
  t.is(githubSlug('Größe & Ümlaut'), 'größe--ümlaut')
})

test('anchors: duplicate headings get -1, -2; HTML ids count; fenced code is ignored', (t) => {
  const md = ['# A', '## Usage', '```', '## Not a heading', '```', '### Usage', '<a id="x_y"></a>'].join('\n')
  t.deepEqual([...anchors(md)].sort(), ['a', 'usage', 'usage-1', 'x_y'])
})

test('links: inline, angle-bracketed, titled, images and definitions; code spans skipped', (t) => {
  const md = [
    'See [a](a.md#b), ![img](<img dir/x.png>) and [t](c.md "title").',
    '`[not](a/link.md)` [ref]: d.md',
    '[ref]: ./e.md',
    '```',
    '[fenced](f.md)',
    '```',
  ].join('\n')
  t.deepEqual(
    links(md).map((l) => l.target),
    ['a.md#b', 'img dir/x.png', 'c.md', './e.md'],
  )
  t.true(isExternal('https://x.y'))
  t.true(isExternal('mailto:a@b'))
  t.false(isExternal('../x.md'))
})

test('tableCells: rows split on unescaped pipes; the rule row is skipped', (t) => {
  t.deepEqual(tableCells('| `a` | b \\| c | d |'), ['`a`', 'b \\| c', 'd'])
  t.is(tableCells('| --- | :-: |'), undefined)
  t.is(tableCells('text'), undefined)
})
