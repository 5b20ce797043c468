// The route that serves the browser bundle: content type, caching headers, ETag and 304.
import t from 'tap'
import Fastify from 'fastify'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { etagMatches, registerClientRoute } from '../lib/http/client-route.js'

async function bundleFile (t: { teardown (fn: () => unknown): void }, body: string): Promise<URL> {
  const dir = await mkdtemp(join(tmpdir(), 'plezi-client-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'bundle.js')
  await writeFile(file, body)
  return pathToFileURL(file)
}

t.test('serves the bundle with a content type, no-cache and an ETag; 304 when it matches', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const missing = pathToFileURL('/nonexistent/bundle.js')
  registerClientRoute(app, '/client.js', [missing, await bundleFile(t, 'window.x=1')])
  const res = await app.inject('/client.js')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/javascript; charset=utf-8')
  t.equal(res.headers['cache-control'], 'no-cache')
  t.equal(res.body, 'window.x=1')
  const etag = String(res.headers.etag)
  t.match(etag, /^"[\w-]+"$/)

  const again = await app.inject({ url: '/client.js', headers: { 'if-none-match': `"other", W/${etag}` } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  t.equal(again.headers.etag, etag)
  const changed = await app.inject({ url: '/client.js', headers: { 'if-none-match': '"other"' } })
  t.equal(changed.statusCode, 200)
  const head = await app.inject({ method: 'HEAD', url: '/client.js' })
  t.equal(head.statusCode, 200)
  t.equal(head.headers.etag, etag)
})

t.test('404 with a hint when the bundle was never built', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  registerClientRoute(app, '/plezi.js', [pathToFileURL('/nonexistent/bundle.js')])
  const res = await app.inject('/plezi.js')
  t.equal(res.statusCode, 404)
  t.match(res.body, /npm run build/)
})

t.test('etagMatches', async (t) => {
  t.equal(etagMatches(undefined, '"a"'), false)
  t.equal(etagMatches('*', '"a"'), true)
  t.equal(etagMatches('"b" ,  "a"', '"a"'), true)
  t.equal(etagMatches('W/"a"', '"a"'), true)
  t.equal(etagMatches('"ab"', '"a"'), false)
})
