// The chat example (examples/chat) as a user meets it: its HTTP side from Node, then two people
// chatting in headless Chromium (Debian's package, driven by playwright-core) through the real
// page and form, a Node client joining in, a server-side drop the pages recover from by
// themselves, and the goodbye of app.close().
// The example imports 'fastify-plezi', which resolves to dist/: run `npm run build` first.
import t, { type Test } from 'tap'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import WebSocket from 'ws'
import type { PleziOptions } from '../lib/index.js'
import { REDIS_URL, ciRequiresRedis, redisAnswers } from './fixtures/pubsub-helpers.js'
import { dropHistoryKeysAtEnd } from './fixtures/history-helpers.js'

const redisUp = await redisAnswers()
if (!redisUp && ciRequiresRedis()) t.fail(`Redis is required under CI but does not answer at ${REDIS_URL}`)
const redisSkip = redisUp ? false : `REDIS NOT RUNNING at ${REDIS_URL}: SKIPPED (start redis-server; under CI=true this fails)`

const SCREENSHOT = resolve('.tap/test-results/test/example-chat.test.ts.png')
const CHROMIUM = process.env.PLEZI_CHROMIUM ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
/** How long a single wait for the page may take before the test fails (not a timing assertion). */
const WAIT = 15_000

const DIST = resolve('dist/lib/index.js')
if (!existsSync(DIST)) {
  throw new Error(`${DIST} is missing: the chat example imports 'fastify-plezi', which resolves to dist/. Run \`npm run build\` first.`)
}
const builtAt = statSync(DIST).mtimeMs
const stale = ['lib', 'client'].flatMap((dir) => readdirSync(dir).map((f) => `${dir}/${f}`))
  .filter((f) => f.endsWith('.ts') && statSync(f).mtimeMs > builtAt)
if (stale.length > 0) {
  console.error(`\n!!! dist/ is older than ${stale.join(', ')}: the chat example runs dist/, so run \`npm run build\` !!!\n`)
}
// a variable specifier: the example is plain JavaScript without type declarations
const example: string = '../examples/chat/app.js'
const { buildApp } = await import(example) as {
  buildApp (options?: PleziOptions & { logger?: boolean }): Promise<FastifyInstance>
}

/** Builds the example, listens on 127.0.0.1 port 0, closes it at teardown. */
async function start (t: Test, options: PleziOptions = {}, port = 0): Promise<{ app: FastifyInstance, http: string, ws: string, port: number, close: () => Promise<void> }> {
  const app = await buildApp({ logger: false, ...options })
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => (closing ??= app.close())
  t.teardown(close)
  await app.listen({ port, host: '127.0.0.1' })
  const address = app.server.address()
  if (typeof address !== 'object' || !address) throw new Error('no port')
  return { app, http: `http://127.0.0.1:${address.port}`, ws: `ws://127.0.0.1:${address.port}`, port: address.port, close }
}

interface Event { event: string, [key: string]: unknown }

/** A raw `ws` client (not PleziClient) that records every JSON message it receives. */
class NodeChatter {
  readonly ws: WebSocket
  readonly received: Event[] = []
  #waiters: Array<{ test: (m: Event) => boolean, resolve: (m: Event) => void }> = []
  constructor (url: string, t: Test) {
    this.ws = new WebSocket(url)
    t.teardown(() => this.ws.terminate())
    this.ws.on('message', (data) => {
      const raw = JSON.parse(String(data)) as Event
      // the room is a history channel: its messages come as _pub_ envelopes (PleziClient unwraps them too)
      if (raw.event === '_sub_') return
      const msg = raw.event === '_pub_' ? raw.data as Event : raw
      this.received.push(msg)
      this.#waiters = this.#waiters.filter((w) => !(w.test(msg) && (w.resolve(msg), true)))
    })
  }

  /** Resolves with the first message (already received or to come) that `test` accepts. */
  next (test: (m: Event) => boolean): Promise<Event> {
    const seen = this.received.find(test)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve) => this.#waiters.push({ test, resolve }))
  }

  send (msg: object): void { this.ws.send(JSON.stringify(msg)) }
}

/** The HTTP status that refused a websocket upgrade (or 101 if it was accepted). */
function upgradeStatus (url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); ws.terminate() })
    ws.on('open', () => { resolve(101); ws.close() })
    ws.on('error', (err) => { if (!/Unexpected server response/.test(err.message)) reject(err) })
  })
}

t.test('HTTP side: the page, the client bundle, websockets need a nickname', async (t) => {
  const { http, ws } = await start(t)

  const page = await fetch(`${http}/`)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/)
  const html = await page.text()
  t.match(html, '<script src="/client.js"></script>', 'the page loads the served client')
  t.match(html, 'id="log"')

  const bundle = await fetch(`${http}/client.js`)
  t.equal(bundle.status, 200)
  t.match(bundle.headers.get('content-type'), /javascript/)
  t.match(await bundle.text(), 'PleziClient')

  t.equal(await upgradeStatus(`${ws}/`), 403, 'no nickname: the upgrade is refused')
  t.equal(await upgradeStatus(`${ws}/${'x'.repeat(33)}`), 403, 'a nickname over 32 characters is refused')
  t.equal(await upgradeStatus(`${ws}/__proto__`), 403, 'a nickname that can be no presence key is refused at the gate, not by track() in onOpen')
  t.equal(await upgradeStatus(`${ws}/${encodeURIComponent('<b>x</b>')}`), 403, 'markup is no nickname')

  const ada = new NodeChatter(`${ws}/ada`, t)
  t.same(await ada.next((m) => m.event === 'notice'), { event: 'notice', text: 'Welcome, ada!' })
  await ada.next((m) => m.text === 'ada joined the chat.')
  const bob = new NodeChatter(`${ws}/bob`, t)
  await bob.next((m) => m.text === 'Welcome, bob!')
  t.same(await ada.next((m) => m.text === 'bob joined the chat.'), { event: 'notice', text: 'bob joined the chat.' })

  bob.send({ event: 'chat', text: 'hi ada', _EID_: 7 })
  t.same(await bob.next((m) => m.event === 'sent'), { event: 'sent', _EID_: 7 }, 'the emit is answered with its _EID_')
  t.same(await ada.next((m) => m.event === 'chat'), { event: 'chat', from: 'bob', text: 'hi ada' })

  // empty messages are ignored: acked like every _EID_, but not published nor answered with 'sent'
  bob.send({ event: 'chat', text: '', _EID_: 8 })
  bob.send({ event: 'chat', _EID_: 9 })
  bob.send({ event: 'chat', text: 'after', _EID_: 10 })
  await ada.next((m) => m.text === 'after')
  await bob.next((m) => m.event === 'sent' && m._EID_ === 10)
  t.same(ada.received.filter((m) => m.event === 'chat').map((m) => m.text), ['hi ada', 'after'])
  t.same(bob.received.filter((m) => m.event === 'sent').map((m) => m._EID_), [7, 10])
  t.same(bob.received.filter((m) => m.event === '_ack_').map((m) => m._EID_), [7, 8, 9, 10])

  bob.ws.close()
  await ada.next((m) => m.text === 'bob left the chat.')
  t.same(ada.received.filter((m) => m.event === 'notice').map((m) => m.text),
    ['Welcome, ada!', 'ada joined the chat.', 'bob joined the chat.', 'bob left the chat.'])
})

t.test('AJAJ passes the websocket gate: a form post or a post without a nickname cannot speak', async (t) => {
  const { http, ws } = await start(t)
  const ada = new NodeChatter(`${ws}/ada`, t)
  await ada.next((m) => m.text === 'ada joined the chat.')
  // what a cross-site <form method="post"> can send, without any CORS preflight
  const form = (path: string, body: string): Promise<Response> =>
    fetch(`${http}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
  t.equal((await form('/', 'event=chat&text=forged')).status, 404, 'a form post is no event: an ordinary create(), which the room has not')
  t.equal((await form('/', 'event=chat&text=forged&id=mallory')).status, 404, 'a nickname in the form does not help')
  t.equal((await form('/mallory', 'event=chat&text=forged')).status, 404, 'nor one in the path (that is update())')
  const json = await fetch(`${http}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event: 'chat', text: 'no nickname' }) })
  t.equal(json.status, 403, 'JSON AJAJ without a nickname is refused by preConnect, like the upgrade')

  // nothing reached the room: the first chat message ada hears is bob's
  const bob = new NodeChatter(`${ws}/bob`, t)
  await bob.next((m) => m.text === 'Welcome, bob!')
  bob.send({ event: 'chat', text: 'first' })
  t.same(await ada.next((m) => m.event === 'chat'), { event: 'chat', from: 'bob', text: 'first' })
})

if (!existsSync(CHROMIUM)) {
  const reason = `Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\``
  if (process.env.CI === 'true') t.fail(reason)
  else {
    console.error(`\n!!! SKIPPING THE BROWSER TEST OF THE CHAT EXAMPLE: ${reason} !!!\n`)
    t.test('the chat example in a browser', { skip: reason }, () => {})
  }
} else {
  t.test('the chat example in a browser: two people, a Node client, a drop, a shutdown', async (t) => {
    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
    t.teardown(() => browser.close())
    const { app, http, ws, close } = await start(t)

    /** Uncaught errors and console errors of the pages, while the server is up. */
    const errors: string[] = []
    const contexts: BrowserContext[] = []

    /** Opens the page as `#nickname`: it joins by itself (without a nickname, it shows the form). */
    async function open (nickname: string): Promise<Page> {
      const context = await browser.newContext({ viewport: { width: 800, height: 640 } })
      contexts.push(context)
      t.teardown(() => context.close())
      const page = await context.newPage()
      const label = nickname || 'the form page'
      page.setDefaultTimeout(WAIT)
      page.on('pageerror', (err) => errors.push(`${label}: ${err.message}`))
      page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`${label}: console: ${msg.text()}`) })
      page.on('response', (res) => { if (res.status() >= 400) errors.push(`${label}: ${res.status()} ${res.url()}`) })
      await page.goto(nickname ? `${http}/#${nickname}` : `${http}/`)
      // every status the page shows, in order (the reconnection check reads it)
      await page.evaluate(() => {
        const status = document.getElementById('status')!
        const history: string[] = [status.textContent ?? '']
        ;(window as unknown as { statusHistory: string[] }).statusHistory = history
        new MutationObserver(() => history.push(status.textContent ?? ''))
          .observe(status, { childList: true, characterData: true, subtree: true })
      })
      return page
    }

    /** Waits until the page's log has `count` lines reading exactly `text`. */
    async function line (page: Page, text: string, count = 1): Promise<void> {
      await page.waitForFunction(([text, count]) =>
        [...document.querySelectorAll('#log p')].filter((p) => p.textContent === text).length >= count,
      [text, count] as const, { timeout: WAIT })
    }

    const log = (page: Page): Promise<string[]> => page.locator('#log p').allTextContents()
    /** Waits until the page's "in the room" list reads exactly `names`. */
    const people = (page: Page, names: string): Promise<unknown> => page.waitForFunction((names) =>
      document.getElementById('people')?.textContent === names, names, { timeout: WAIT })
    const status = (page: Page): Promise<string | null> => page.locator('#status').textContent()

    /** Types into the real form and submits it with its button. */
    async function say (page: Page, text: string): Promise<void> {
      await page.fill('#text', text)
      await page.click('#say button')
    }

    // ada joins, then bob: the join notices reach everyone in the room
    const ada = await open('ada')
    await line(ada, 'Welcome, ada!')
    await line(ada, 'ada joined the chat.')
    await ada.locator('#status', { hasText: 'connected as ada' }).waitFor()
    t.equal(await ada.locator('#join').isHidden(), true, 'the nickname form is hidden after joining from the hash')
    const bob = await open('bob')
    await line(bob, 'Welcome, bob!')
    await line(bob, 'bob joined the chat.')
    await line(ada, 'bob joined the chat.')
    t.equal(await status(bob), 'connected as bob')

    // ada types a message and sends it with the form: both pages show it
    await say(ada, 'hello bob')
    await line(bob, 'ada: hello bob')
    await line(ada, 'ada: hello bob')
    t.equal(await ada.inputValue('#text'), '', 'the input is cleared after sending')
    t.equal(await bob.locator('#log p .from').last().textContent(), 'ada: ', 'the sender is in a .from span')

    // a Node client (raw ws) joins as carol and speaks through the server
    const carol = new NodeChatter(`${ws}/carol`, t)
    await carol.next((m) => m.text === 'Welcome, carol!')
    await line(ada, 'carol joined the chat.')
    await line(bob, 'carol joined the chat.')
    await people(ada, 'ada, bob, carol') // presence: who is in the room, Node clients too
    carol.send({ event: 'chat', text: 'hello from Node', _EID_: 1 })
    await carol.next((m) => m.event === 'sent')
    await line(ada, 'carol: hello from Node')
    await line(bob, 'carol: hello from Node')
    t.notOk(carol.received.some((m) => m.text === 'hello bob'), 'a new client gets no replay: carol joined after ada spoke')
    await say(bob, 'welcome carol')
    t.same(await carol.next((m) => m.event === 'chat' && m.from === 'bob'), { event: 'chat', from: 'bob', text: 'welcome carol' })
    await line(ada, 'bob: welcome carol')
    carol.ws.close()
    await line(ada, 'carol left the chat.')
    await line(bob, 'carol left the chat.')

    // the server drops every connection: the pages notice and reconnect by themselves
    t.equal(app.websocketServer.clients.size, 2, 'ada and bob are connected')
    for (const socket of app.websocketServer.clients) socket.terminate()
    for (const [page, nickname] of [[ada, 'ada'], [bob, 'bob']] as const) {
      await page.waitForFunction((nickname) => {
        const history = (window as unknown as { statusHistory: string[] }).statusHistory
        const down = history.lastIndexOf('disconnected, reconnecting…')
        return down > 0 && history.lastIndexOf(`connected as ${nickname}`) > down
      }, nickname, { timeout: WAIT })
      // subscribed again (its join notice), and recovered rather than welcomed a second time
      await line(page, `${nickname} joined the chat.`, 2)
      t.equal((await log(page)).filter((l) => l === `Welcome, ${nickname}!`).length, 1, 'one welcome: the page recovered')
    }
    t.equal(app.websocketServer.clients.size, 2, 'both pages are connected again')
    await say(ada, 'still here?')
    await line(bob, 'ada: still here?')
    await line(ada, 'ada: still here?')
    await say(bob, 'yes!')
    await line(ada, 'bob: yes!')
    t.equal(await status(ada), 'connected as ada')

    // without a hash, the page asks for a nickname and joins with the form
    const dave = await open('')
    t.equal(await dave.locator('#room').isHidden(), true, 'no room before joining')
    await dave.fill('#nickname', ' dave ')
    await dave.press('#nickname', 'Enter')
    await line(dave, 'Welcome, dave!')
    await dave.locator('#status', { hasText: 'connected as dave' }).waitFor()
    t.equal(await dave.locator('#join').isHidden(), true, 'the nickname form is gone after joining')
    await line(ada, 'dave joined the chat.')
    await say(dave, 'hi all')
    await line(ada, 'dave: hi all')
    await line(bob, 'dave: hi all')
    await people(ada, 'ada, bob, dave')
    await people(bob, 'ada, bob, dave')

    t.same(errors, [], 'no page errors while the server is up')
    // for humans: next to this test's output in .tap/test-results
    await ada.screenshot({ path: SCREENSHOT })
    t.comment(`screenshot of ada's page: ${SCREENSHOT}`)

    // dave closes his page: the others' lists are right again
    await dave.context().close()
    await people(ada, 'ada, bob')
    await people(bob, 'ada, bob')

    // app.close(): every page hears the goodbye, then loses its connection
    await close()
    for (const [page, nickname] of [[ada, 'ada'], [bob, 'bob']] as const) {
      await line(page, 'Server shutting down. Goodbye.')
      await page.locator('#status', { hasText: 'disconnected' }).waitFor()
      t.ok((await log(page)).includes(`Welcome, ${nickname}!`))
    }
    // the pages would keep reconnecting to a port another test may reuse: close them now
    await Promise.all(contexts.map((c) => c.close()))
  })

  t.test('the chat example in a browser: a refused nickname says why; no line is lost across a server restart', { skip: redisSkip }, async (t) => {
    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
    t.teardown(() => browser.close())
    // two servers of one room on Redis: the pages live on the first, which is closed and started again
    const options = { redis: REDIS_URL, appName: `chat_${process.pid}_${Date.now()}` }
    dropHistoryKeysAtEnd(t, REDIS_URL, options.appName)
    const first = await start(t, options)
    const other = await start(t, options)
    const errors: string[] = []
    const pages: Page[] = []
    async function open (nickname: string): Promise<Page> {
      const context = await browser.newContext({ viewport: { width: 800, height: 640 } })
      t.teardown(() => context.close())
      const page = await context.newPage()
      page.setDefaultTimeout(WAIT)
      page.on('pageerror', (err) => errors.push(`${nickname}: ${err.message}`))
      await page.goto(`${first.http}/#${nickname}`)
      pages.push(page)
      return page
    }
    const line = (page: Page, text: string): Promise<unknown> => page.waitForFunction((text) =>
      [...document.querySelectorAll('#log p')].some((p) => p.textContent === text), text, { timeout: WAIT })

    const refused = await open('not a nickname!')
    await refused.locator('#refused', { hasText: 'cannot be a nickname' }).waitFor()
    t.equal(await refused.locator('#join').isVisible(), true, 'the form is back, with the reason above it')
    t.equal(first.app.websocketServer.clients.size, 0, 'the page did not even try to connect')
    t.match(await refused.locator('#about').textContent(), /second tab/, 'the page says what it is and invites a second tab')

    const ada = await open('ada')
    const bob = await open('bob')
    await line(ada, 'bob joined the chat.')
    const carol = new NodeChatter(`${other.ws}/carol`, t) // on the other server
    await line(ada, 'carol joined the chat.')

    // the pages' server restarts; meanwhile carol, on the other one, keeps talking
    await first.close()
    for (const page of [ada, bob]) await page.locator('#status', { hasText: 'disconnected' }).waitFor()
    carol.send({ event: 'chat', text: 'said while you were away', _EID_: 1 })
    await carol.next((m) => m.event === 'sent')
    const again = await start(t, options, first.port)
    for (const [page, nickname] of [[ada, 'ada'], [bob, 'bob']] as const) {
      await page.locator('#status', { hasText: `connected as ${nickname}` }).waitFor()
      await line(page, 'carol: said while you were away')
    }
    carol.send({ event: 'chat', text: 'and after', _EID_: 2 })
    for (const page of [ada, bob]) await line(page, 'carol: and after')
    for (const page of [ada, bob]) {
      const log = await page.locator('#log p').allTextContents()
      t.equal(log.filter((l) => l === 'carol: said while you were away').length, 1, 'the missed line, exactly once')
      t.ok(log.indexOf('carol: said while you were away') < log.indexOf('carol: and after'), 'in order')
    }
    await ada.screenshot({ path: SCREENSHOT.replace('.png', '-restart.png') })
    t.comment(`screenshot after the restart: ${SCREENSHOT.replace('.png', '-restart.png')}`)
    t.same(errors, [], 'no page errors')
    await again.close()
    await other.close()
    await Promise.all(pages.map((p) => p.context().close()))
  })
}
