// The error table of the README and lib/errors.ts must agree: codes, types, and nothing extra.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { errorCodes } from '../lib/errors.js'
import * as api from '../lib/index.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const rows = [...readme.matchAll(/^\| `(PLZ_ERR_\w+)` \| (\w+) \|/gm)].map((m) => ({ code: m[1], type: m[2] }))

t.test('every error code is in the README with its type, and only those', async (t) => {
  t.same(rows.map((r) => r.code).sort(), Object.keys(errorCodes).sort())
  for (const { code, type } of rows) {
    const Make = errorCodes[code as keyof typeof errorCodes] as unknown as new (...args: string[]) => Error & { code: string }
    const err = new Make('x', 'y')
    t.equal(err.code, code)
    t.equal(err.name === 'TypeError' || err instanceof TypeError ? 'TypeError' : 'Error', type, `${code} is a ${type}`)
  }
})

t.test('the errors are exported from the package', async (t) => {
  for (const code of Object.keys(errorCodes)) t.type((api as Record<string, unknown>)[code], 'function', code)
})
