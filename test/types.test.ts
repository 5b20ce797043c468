// Type tests: every .ts in test/types/ is compiled with `tsc --noEmit` under strict settings
// (test/types/tsconfig.json, 'fastify-plezi' mapped to the source), as a user's project would
// be. A `// @ts-expect-error` line there is something that must not compile: tsc fails when it
// does. The README's TypeScript examples must appear there as written.
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = join(root, 'test/types')
const tsc = join(root, 'node_modules/typescript/bin/tsc')
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()

t.test('every .ts in test/types/ compiles under strict, and every @ts-expect-error holds', async (t) => {
  t.ok(fixtures.length > 0, 'there are type tests')
  const { stdout } = await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--listFiles'], { cwd: root })
    .catch((err: { stdout?: string }) => {
      // tsc prints its diagnostics on stdout
      t.fail(`tsc failed:\n${(err.stdout ?? String(err)).split('\n').filter((l) => !l.startsWith('/')).join('\n')}`)
      return { stdout: err.stdout ?? '' }
    })
  const compiled = new Set(stdout.split('\n').map((l) => l.trim()))
  for (const file of fixtures) t.ok(compiled.has(join(dir, file)), `${file} was compiled`)
})

t.test('the README\'s TypeScript examples are in test/types/ as written', async (t) => {
  // a fixture may add `// @ts-expect-error` lines in front of what must not compile
  const bodies = fixtures.map((f) => readFileSync(join(dir, f), 'utf8').replace(/^[ \t]*\/\/ @ts-expect-error.*\n/gm, ''))
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
  t.ok(blocks.length > 0, 'the README has TypeScript examples')
  // the event-map section's two blocks are compiled as written by test/types-events.test.ts
  const compiledThere = ['// chat.ts: the server', '// front end']
  for (const block of blocks.filter((b) => !compiledThere.some((first) => b.startsWith(first)))) {
    t.ok(bodies.some((body) => body.includes(block)), `in a test/types/ file: ${block.split('\n')[0]}`)
  }
})
