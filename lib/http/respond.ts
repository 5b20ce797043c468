// Turns what an HTTP action returned into a response (SPEC section 2).
import type { FastifyReply } from 'fastify'

function isReadable (value: object): boolean {
  return typeof (value as { pipe?: unknown }).pipe === 'function'
}

/**
 * string → text/html; object or array → JSON; Buffer/Uint8Array → octet-stream; a readable
 * stream is piped; a Promise is awaited first; undefined/null/false → 404; a reply the
 * action already sent is left alone.
 */
export async function respond (reply: FastifyReply, result: unknown): Promise<FastifyReply> {
  const value = await result
  if (reply.sent) return reply
  if (value === undefined || value === null || value === false) {
    reply.callNotFound()
    return reply
  }
  if (typeof value === 'string') {
    return reply.type('text/html; charset=utf-8').send(value)
  }
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    return reply.type('application/octet-stream').send(value instanceof ArrayBuffer ? Buffer.from(value) : value)
  }
  if (typeof value === 'object' && isReadable(value)) {
    if (!reply.hasHeader('content-type')) reply.type('application/octet-stream')
    return reply.send(value)
  }
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(value))
}
