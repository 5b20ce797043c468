// compression in a real browser: headless Chromium (which always offers permessage-deflate) reads
// published messages compressed once by the server, around the threshold and around 64 KiB.
import t from 'tap'
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import { Controller } from '../lib/index.js'
import { build } from './helpers.js'

const CHROMIUM = process.env.PLEZI_CHROMIUM ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const THRESHOLD = 1024
const SIZES = [10, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1, 65535, 65536, 200_000]

class Feed extends Controller {
  async onOpen () {
    await this.subscribe('feed')
    this.write('ready')
  }

  onMessage (data: string) { if (data === 'go') for (const size of SIZES) void this.publish('feed', JSON.stringify({ size, text: 'é'.repeat(size >> 1) })) }
}

if (!existsSync(CHROMIUM)) {
  const reason = `Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\``
  if (process.env.CI === 'true') t.fail(reason)
  else {
    console.error(`\n!!! SKIPPING THE BROWSER COMPRESSION TEST: ${reason} !!!\n`)
    t.plan(0, reason)
  }
} else {
  t.test('Chromium reads every compressed and plain published frame exactly', async (t) => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
    t.teardown(() => browser.close())
    const { url, wsUrl } = await build(t, (app) => {
      app.plezi.route('/feed', Feed)
      app.get('/page', async (_req, reply) => reply.type('text/html; charset=utf-8').send('<!doctype html><title>compression</title>'))
    }, { compression: { threshold: THRESHOLD } })
    const page = await browser.newPage()
    await page.goto(`${url}/page`)
    const result = await page.evaluate(async ({ wsUrl, count }) => {
      const ws = new WebSocket(`${wsUrl}/feed`)
      const received: string[] = []
      await new Promise<void>((resolve) => {
        ws.onmessage = (e) => {
          if (e.data === 'ready') { ws.send('go'); return }
          received.push(e.data as string)
          if (received.length === count) resolve()
        }
      })
      return { extensions: ws.extensions, messages: received.map((m) => { const v = JSON.parse(m) as { size: number, text: string }; return [v.size, v.text.length, v.text === 'é'.repeat(v.size >> 1)] }) }
    }, { wsUrl, count: SIZES.length })
    t.match(result.extensions, /permessage-deflate/, 'Chromium negotiated compression')
    t.same(result.messages, SIZES.map((size) => [size, size >> 1, true]))
  })
}
