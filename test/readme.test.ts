// The README's JavaScript examples run as written (only the port is changed to 0), against
// the built package (`npm run build`), as a user would run them.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/```(js|ts)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], code: m[2] }))
const built = existsSync(join(root, 'dist/lib/index.js'))

/** Runs a server example (.mjs in the package, so that 'fastify-plezi' resolves to this package) and returns its URL. */
async function runExample (t: { teardown (fn: () => unknown): void }, code: string, lang = 'js'): Promise<string> {
  const dir = mkdtempSync(join(root, '.readme-example-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, lang === 'ts' ? 'server.ts' : lang === 'cjs' ? 'server.cjs' : 'server.mjs')
  writeFileSync(file, code.replace(/port: 3000/g, 'port: 0, host: \'127.0.0.1\''))
  // TypeScript runs through tap's own loader (transpile only), as in the other child-process tests
  const loader = lang === 'ts' ? ['--import', import.meta.resolve('@tapjs/typescript/import')] : []
  const child = spawn(process.execPath, [...loader, file], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill() })
  let output = ''
  for await (const chunk of child.stdout) {
    output += chunk
    const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
    if (match) return match[1]
  }
  throw new Error(`the example exited without listening: ${output}`)
}

t.test('the quick start runs as written', { skip: built ? false : 'dist/ is missing: run `npm run build` first' }, async (t) => {
  const quick = blocks.find((b) => b.code.startsWith('// server.mjs'))
  t.ok(quick, 'the README has the quick start')
  const url = await runExample(t, quick!.code)
  const res = await fetch(`${url}/echo/1`)
  t.equal(await res.text(), 'showing object with id: 1')
  const client = new Client(`${url.replace('http', 'ws')}/echo`)
  t.teardown(() => { client.ws.terminate() })
  await client.opened
  t.equal(await client.next(), 'welcome')
  client.send('hi')
  t.equal(await client.next(), 'echo: hi')
})

t.test('the MyEcho auto-dispatch example runs as written', { skip: built ? false : 'dist/ is missing: run `npm run build` first' }, async (t) => {
  const example = blocks.find((b) => b.lang === 'ts' && b.code.includes('class MyEcho'))
  t.ok(example, 'the README has the MyEcho example')
  const url = await runExample(t, example!.code, 'ts')
  const client = new Client(url.replace('http', 'ws'))
  t.teardown(() => { client.ws.terminate() })
  await client.opened
  client.send({ event: 'echo', data: 'hi' })
  t.same(await client.json(), { event: 'echo', data: 'You said: hi' })
  client.send({ event: 'dance' })
  t.same(await client.json(), { event: 'unknown', data: 'Unknown event: dance' })
  t.equal(await (await fetch(url)).text(), 'Use websockets to connect.')
})

t.test('the testing section\'s tap test passes as written', { skip: built ? false : 'dist/ is missing: run `npm run build` first' }, async (t) => {
  const example = blocks.find((b) => b.code.startsWith('// test/chat.test.mjs'))
  t.ok(example, 'the README has the tap test')
  const dir = mkdtempSync(join(root, '.readme-example-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'chat.test.mjs')
  writeFileSync(file, example!.code)
  // a tap test file runs under plain node: TAP on stdout, a non-zero exit when an assertion fails
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TAP: '0' } })
  t.teardown(() => { child.kill() })
  let output = ''
  for await (const chunk of child.stdout) output += chunk
  const [code] = await once(child, 'close') as [number]
  t.equal(code, 0, output)
  t.match(output, /ok 1 - the chat greets, adds, and refuses the nameless/)
  t.notMatch(output, /not ok/)
})

t.test('the prom-client example serves the stats as metrics', { skip: built ? false : 'dist/ is missing: run `npm run build` first' }, async (t) => {
  const example = blocks.find((b) => b.code.startsWith('// metrics.mjs'))
  t.ok(example, 'the README has the metrics example')
  const url = await runExample(t, example!.code)
  const metrics = await (await fetch(`${url}/metrics`)).text()
  for (const name of ['plezi_connections 0', 'plezi_subscriptions 0', 'plezi_published_total 0', 'plezi_delivered_total 0']) {
    t.match(metrics, name)
  }
  t.match(metrics, /# TYPE plezi_errors_total counter/)
})

t.test('the CommonJS example runs as written', { skip: built ? false : 'dist/ is missing: run `npm run build` first' }, async (t) => {
  const example = blocks.find((b) => b.code.startsWith('// server.cjs'))
  t.ok(example, 'the README has the CommonJS example')
  const url = await runExample(t, example!.code, 'cjs')
  const client = new Client(`${url.replace('http', 'ws')}/echo`)
  t.teardown(() => { client.ws.terminate() })
  await client.opened
  client.send('hi')
  t.equal(await client.next(), 'echo: hi')
})

t.test('the table of contents lists every section', async (t) => {
  const script: string = '../scripts/readme-toc.js'
  const { withToc } = await import(script) as { withToc (markdown: string): string }
  t.equal(readme, withToc(readme), 'run `node scripts/readme-toc.js` after changing headings')
})
