// PleziClient in headless Chromium on a history channel: a chat page loses no line across a
// server restart — the lines published while its server was down are recovered (from Redis)
// when it reconnects, once each, in order, and no resync is needed.
import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { chromium } from 'playwright-core'
import plezi, { Controller } from '../lib/index.js'
import { REDIS_URL } from './fixtures/pubsub-helpers.js'
import { historyRedis } from './fixtures/history-helpers.js'

const CHROMIUM = process.env.PLEZI_CHROMIUM ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

const { redisUp, appNameFor } = await historyRedis(t, 'hbrowser')
const missing = !existsSync(CHROMIUM) ? `Chromium is missing at ${CHROMIUM}` : !redisUp ? `REDIS NOT RUNNING at ${REDIS_URL}` : false
if (missing !== false && process.env.CI === 'true') t.fail(missing)

class Chat extends Controller {
  static autoDispatch = true
  async onOpen (): Promise<void> { await this.subscribe('chat') }
}

const PAGE = `<!doctype html><title>history</title><script src="/client.js"></script><ul id="lines"></ul><script>
  window.lines = []
  window.resyncs = 0
  const client = new PleziClient(PleziClient.origin + '/chat', true)
  client.reconnect_interval = 50
  client.line = (msg) => {
    window.lines.push(msg.text)
    document.getElementById('lines').insertAdjacentHTML('beforeend', '<li>')
    document.getElementById('lines').lastChild.textContent = msg.text
  }
  client.onresync = () => { window.resyncs++ }
  window.subscribed = new Promise((resolve) => client.on('_sub_', resolve))
</script>`

/** Rebuilds dist/client/plezi-client.min.js from the sources (atomically: other tests may read it). */
async function buildBundle (): Promise<void> {
  const script: string = '../scripts/build-client.js'
  const { buildClient, OUTFILE } = await import(script) as { OUTFILE: string, buildClient (o: { write: false }): Promise<{ bytes: Uint8Array }> }
  const { bytes } = await buildClient({ write: false })
  await mkdir(dirname(OUTFILE), { recursive: true })
  const tmp = `${OUTFILE}.${process.pid}.tmp`
  await writeFile(tmp, bytes)
  await rename(tmp, OUTFILE)
}

t.test('a chat page loses no line across a server restart', { skip: missing }, async (t) => {
  await buildBundle()
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
  t.teardown(() => browser.close())
  const appName = appNameFor()

  async function start (port = 0, listen = true): Promise<FastifyInstance> {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(plezi, { redis: REDIS_URL, appName, pingInterval: 0, history: { channels: ['chat'] } })
    app.plezi.route('/chat', Chat)
    app.get('/page', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE))
    if (listen) await app.listen({ port, host: '127.0.0.1' })
    return app
  }
  const say = (app: FastifyInstance, text: string): Promise<boolean> => app.plezi.publish('chat', { event: 'line', text })
  const lines = (n: number): Promise<string[]> => page.waitForFunction(`window.lines.length >= ${n}`).then(() => page.evaluate('window.lines') as Promise<string[]>)

  const first = await start()
  const { port } = first.server.address() as { port: number }
  const publisher = await start(0, false) // another process of the app, say a worker
  const context = await browser.newContext()
  t.teardown(() => context.close())
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  await page.goto(`http://127.0.0.1:${port}/page`)
  await page.evaluate('window.subscribed')
  for (const text of ['one', 'two', 'three']) await say(first, text)
  t.same(await lines(3), ['one', 'two', 'three'])

  await first.close()
  for (const text of ['four', 'five']) await say(publisher, text) // while the page has no server
  const second = await start(port)
  t.same(await lines(5), ['one', 'two', 'three', 'four', 'five'], 'the lines said while the server was down arrive on reconnect')
  await say(second, 'six')
  t.same(await lines(6), ['one', 'two', 'three', 'four', 'five', 'six'], 'then the live ones, none twice')
  t.equal(await page.evaluate('window.resyncs'), 0, 'no resync was needed')
  t.equal(await page.textContent('#lines li:last-child'), 'six')
  t.same(errors, [], 'no page errors')
})
