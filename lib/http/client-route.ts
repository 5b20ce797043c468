// Serves the browser bundle of PleziClient (dist/client/plezi-client.min.js) at `clientPath`,
// with an ETag so browsers revalidate cheaply (304) instead of downloading it again.
import { readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** Where the bundle is, seen from dist/lib/http (installed package) and from lib/http (sources, tests). */
const CANDIDATES = [
  new URL('../../client/plezi-client.min.js', import.meta.url),
  new URL('../../dist/client/plezi-client.min.js', import.meta.url)
]

interface Bundle { body: Buffer, etag: string }

async function loadBundle (files: readonly URL[]): Promise<Bundle | null> {
  for (const file of files) {
    try {
      const body = await readFile(file)
      return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }
    } catch {}
  }
  return null
}

/** True when an If-None-Match header names this ETag (weak or strong) or is `*`. */
export function etagMatches (header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header.split(',').some((tag) => {
    const t = tag.trim()
    return t === '*' || t.replace(/^W\//, '') === etag
  })
}

/**
 * Adds `GET path` (and HEAD) answering with the client bundle: `application/javascript`,
 * `Cache-Control: no-cache` (cache, but revalidate) and an ETag. The file is read once, on the
 * first request; when it was never built, the route answers 404 and says how to build it.
 */
export function registerClientRoute (fastify: FastifyInstance, path: string, files: readonly URL[] = CANDIDATES): void {
  let bundle: Promise<Bundle | null> | undefined
  fastify.get(path, async (request: FastifyRequest, reply: FastifyReply) => {
    bundle ??= loadBundle(files)
    const found = await bundle
    if (!found) {
      bundle = undefined
      request.log.error('fastify-plezi: the PleziClient bundle is missing; run `npm run build`')
      return reply.code(404).type('text/plain; charset=utf-8').send('PleziClient bundle not built: run `npm run build`')
    }
    reply
      .header('content-type', 'application/javascript; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('etag', found.etag)
    if (etagMatches(request.headers['if-none-match'], found.etag)) return reply.code(304).send()
    return reply.send(found.body)
  })
}
