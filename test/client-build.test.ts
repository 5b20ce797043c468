// The browser bundle: under budget, defines window.PleziClient as the constructor, and the ESM
// entry (which imports 'ws') still bundles for browsers.
import t from 'tap'
import { runInNewContext } from 'node:vm'
import { build } from 'esbuild'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

interface BuildClient {
  BUDGET: number
  buildClient (options: { write?: boolean, entry?: string }): Promise<{ bytes: Uint8Array, gzipped: number }>
}
const script: string = '../scripts/build-client.js'
const { BUDGET, buildClient } = await import(script) as BuildClient

t.test('the minified, gzipped IIFE stays under 3 KB', async (t) => {
  const { gzipped } = await buildClient({ write: false })
  t.equal(BUDGET, 3072)
  t.ok(gzipped < BUDGET, `${gzipped} bytes gzipped`)
})

t.test('the IIFE makes window.PleziClient the constructor', async (t) => {
  const { bytes } = await buildClient({ write: false })
  const sockets: string[] = []
  class WebSocket {
    readyState = 0
    constructor (url: string) { sockets.push(url) }
    close (): void {}
  }
  const window: Record<string, unknown> = {
    WebSocket,
    location: { protocol: 'https:', host: 'example.test:8443', pathname: '/chat/room' },
    console,
    setTimeout,
    clearTimeout
  }
  window.window = window
  window.self = window
  runInNewContext(`${new TextDecoder().decode(bytes)}
    var client = new PleziClient()
    var other = new PleziClient(PleziClient.origin + '/x', true)`, window)
  const { PleziClient, client, other } = window as Record<string, { origin?: string, url?: string, ajaj?: { url: string }, autoreconnect?: boolean }>
  t.type(PleziClient, 'function')
  t.equal(PleziClient!.origin, 'wss://example.test:8443')
  t.equal(client!.url, 'wss://example.test:8443/chat/room')
  t.equal(client!.ajaj!.url, 'https://example.test:8443/chat/room')
  t.equal(other!.autoreconnect, true)
  t.same(sockets, ['wss://example.test:8443/chat/room', 'wss://example.test:8443/x'])
})

t.test("the ESM entry bundles for browsers ('ws' becomes its stub)", async (t) => {
  const result = await build({
    entryPoints: [new URL('../client/index.ts', import.meta.url).pathname],
    bundle: true, write: false, format: 'esm', platform: 'browser', logLevel: 'silent'
  })
  t.equal(result.errors.length, 0)
  t.match(result.outputFiles[0]!.text, /ws does not work in the browser/)
})

t.test('the build script prints the size, and fails past the budget', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'plezi-build-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const run = (budget: number): Promise<{ code: number | null, out: string }> => new Promise((resolve) => {
    const args = [new URL(script, import.meta.url).pathname, '--outfile', join(dir, 'c.js'), '--budget', String(budget)]
    execFile(process.execPath, args, (err, stdout, stderr) => {
      resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, out: stdout + stderr })
    })
  })
  const ok = await run(BUDGET)
  t.equal(ok.code, 0)
  t.match(ok.out, /\d+ bytes gzipped/)
  const over = await run(100)
  t.equal(over.code, 1)
  t.match(over.out, /over the 100-byte budget/)
})
