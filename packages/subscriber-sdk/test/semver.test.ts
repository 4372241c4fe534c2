import test from 'ava'
import { satisfies } from '../src/index.ts'

const cases: [string, string, boolean][] = [
  ['0.1.0', '^0.1', true],
  ['0.1.99', '^0.1', true],
  ['0.2.0', '^0.1', false],
  ['0.0.9', '^0.1', false],
  ['1.4.0', '^1.2', true],
  ['2.0.0', '^1.2', false],
  ['0.0.3', '^0.0.3', true],
  ['0.0.4', '^0.0.3', false],
  ['1.2.9', '~1.2.3', true],
  ['1.3.0', '~1.2.3', false],
  ['1.2.3', '1.2.3', true],
  ['1.2.4', '=1.2.3', false],
  ['1.9.0', '1.x', true],
  ['2.0.0', '1', false],
  ['5.0.0', '*', true],
  ['1.0.0', '>=1.0.0 <2.0.0', true],
  ['2.0.0', '>=1.0.0 <2.0.0', false],
  ['3.1.0', '^1 || ^3', true],
  ['2.1.0', '^1 || ^3', false],
  ['0.1.0-rc.1', '^0.1', false],
  ['0.1.1-rc.1', '^0.1', true],
  ['1.0.0', '> 0.9.0', true],
]

for (const [version, range, expected] of cases) {
  test(`${version} ${expected ? 'satisfies' : 'does not satisfy'} ${range}`, (t) => {
    t.is(satisfies(version, range), expected)
  })
}

test('rejects what it cannot parse', (t) => {
  t.throws(() => satisfies('one', '^1'), { instanceOf: TypeError })
  t.throws(() => satisfies('1.0.0', '^a.b'), { instanceOf: TypeError })
})
