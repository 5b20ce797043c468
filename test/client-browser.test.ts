// PleziClient in a real browser: headless Chromium (Debian's package, driven by playwright-core)
// loads the bundle the plugin serves at `clientPath` and talks to the real plugin.
import t, { type Test } from 'tap'
import { existsSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { Controller } from '../lib/index.js'
import { fixture, opened, type Fixture } from './client-helpers.js'

/** A chat room over pub/sub: everyone on /room hears what anyone says. */
class Room extends Controller {
  static autoDispatch = true
  async onOpen (): Promise<void> { await this.subscribe('room') }
  ping (_msg: object): object { return { event: 'pong' } }
  async say (msg: { text: string }): Promise<void> { await this.publish('room', { event: 'chat', text: msg.text }) }
}

const SCREENSHOT = resolve('.tap/test-results/test/client-browser.test.ts.png')
const CHROMIUM = process.env.PLEZI_CHROMIUM ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** Rebuilds dist/client/plezi-client.min.js from the sources (atomically: other tests may read it). */
async function buildBundle (): Promise<void> {
  const script: string = '../scripts/build-client.js'
  const { buildClient, OUTFILE } = await import(script) as {
    OUTFILE: string
    buildClient (o: { write: false }): Promise<{ bytes: Uint8Array }>
  }
  const { bytes } = await buildClient({ write: false })
  await mkdir(dirname(OUTFILE), { recursive: true })
  const tmp = `${OUTFILE}.${process.pid}.tmp`
  await writeFile(tmp, bytes)
  await rename(tmp, OUTFILE)
}

if (!existsSync(CHROMIUM)) {
  const reason = `Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\``
  if (process.env.CI === 'true') t.fail(reason)
  else {
    console.error(`\n!!! SKIPPING THE BROWSER TEST: ${reason} !!!\n`)
    t.plan(0, reason)
  }
} else {
  await buildBundle()
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
  t.teardown(() => browser.close())

  interface Opened {
    page: Page
    base: string
    /** Uncaught errors of the page. */
    errors: string[]
    /** A Node client of the same server, closed at teardown. */
    client: (path: string) => ReturnType<Fixture['client']>
  }

  async function openPage (t: Test): Promise<Opened> {
    const f = fixture(t)
    const { url } = await f.start(0, {
      clientPath: '/client.js',
      routes: (app) => {
        app.plezi.route('/room', Room)
        app.get('/page', async (_req, reply) => reply.type('text/html; charset=utf-8')
          .send('<!doctype html><title>client test</title><script src="/client.js"></script>'))
      }
    })
    const base = url.replace('ws:', 'http:').replace('/calc', '')
    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    await page.goto(`${base}/page`)
    return { page, base, errors, client: (path: string) => f.client(base.replace('http:', 'ws:') + path) }
  }

  t.test('the served bundle defines window.PleziClient', async (t) => {
    const { page, base, errors } = await openPage(t)
    t.equal(await page.evaluate('typeof window.PleziClient'), 'function')
    t.equal(await page.evaluate('PleziClient.origin'), base.replace('http:', 'ws:'))
    t.same(errors, [], 'no page errors')
  })

  t.test('connect, emit with ack, handler on a server push, request, reconnect after a drop', async (t) => {
    const { page, errors } = await openPage(t)
    const result = await page.evaluate(`(async () => {
      const client = new PleziClient(PleziClient.origin + '/calc', true)
      client.reconnect_interval = 20
      await new Promise((resolve) => { client.onopen = resolve })
      const out = { connected: client.connected, readyState: client.readyState() }
      out.ackEid = await new Promise((resolve) => client.emit({ event: 'sum', a: 1, b: 2 }, (ev) => resolve(ev._EID_)))
      out.push = await new Promise((resolve) => { client.hello = resolve; client.emit({ event: 'push', name: 'hello' }) })
      out.reply = await client.request({ event: 'sum', a: 2, b: 3 })
      out.error = await client.request({ event: 'nope' }).catch((err) => err.code + ' ' + err.reply.status)
      const down = new Promise((resolve) => { client.onclose = (e) => resolve(e.code) })
      const up = new Promise((resolve) => { client.onopen = resolve })
      client.emit({ event: 'drop' })
      out.closeCode = await down
      client.emit({ event: 'note', n: 7 }) // queued while reconnecting
      await up
      out.afterReconnect = await client.request({ event: 'sum', a: 5, b: 5 })
      client.close()
      return out
    })()`)
    t.match(result, {
      connected: true,
      readyState: 1,
      ackEid: Number,
      push: { event: 'hello', from: 'server' },
      reply: { event: 'sum', result: 5 },
      error: 'server 404',
      closeCode: 1000,
      afterReconnect: { event: 'sum', result: 10 }
    })
    t.same(errors, [], 'no page errors')
  })

  t.test('AJAJ from the page', async (t) => {
    const { page, errors } = await openPage(t)
    const reply = await page.evaluate(`(async () => {
      const client = new PleziClient(PleziClient.origin + '/calc')
      const reply = new Promise((resolve) => { client.sum = resolve })
      await client.ajaj.emit({ event: 'sum', a: 20, b: 22 })
      client.close()
      return reply
    })()`)
    t.same(reply, { event: 'sum', result: 42 })
    t.same(errors, [], 'no page errors')
  })

  t.test('a pub/sub message from another client (Node) reaches the page', async (t) => {
    const { page, errors, client } = await openPage(t)
    await page.evaluate(`(async () => {
      const client = new PleziClient(PleziClient.origin + '/room')
      await new Promise((resolve) => { client.onopen = resolve })
      await client.request({ event: 'ping' }) // onOpen, and so the subscription, is done
      window.chatReceived = new Promise((resolve) => {
        client.chat = (msg) => {
          document.body.insertAdjacentHTML('beforeend', '<p>')
          document.body.lastChild.textContent = 'chat: ' + msg.text
          resolve(msg)
        }
      })
    })()`)
    const node = client('/room')
    await opened(node)
    node.emit({ event: 'say', text: 'hello from Node' } as never)
    t.same(await page.evaluate('window.chatReceived'), { event: 'chat', text: 'hello from Node' })
    t.equal(await page.textContent('p'), 'chat: hello from Node')
    t.same(errors, [], 'no page errors')
    // for humans: next to this test's output in .tap/test-results
    await page.screenshot({ path: SCREENSHOT })
  })
}
