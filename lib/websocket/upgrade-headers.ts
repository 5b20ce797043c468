// Headers and cookies put on the reply before the upgrade (by preConnect, `this.cookies`, or
// the app's own hooks) must reach the 101 Switching Protocols, which @fastify/websocket writes
// without looking at the reply: they travel through the `ws` server's 'headers' event,
// stashed on the raw request.
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Controller } from '../controller.js'
import { takePendingCookies } from '../http/reply-cookies.js'

export const kUpgrade = Symbol('plezi.upgrade')

export interface PendingUpgrade {
  controller: Controller
  /** Full header lines (`Name: value`) for the 101. */
  headers: string[]
}

// Owned by the handshake itself: copying them from the reply would break it.
const NOT_FOR_101 = new Set([
  'content-type', 'content-length', 'transfer-encoding', 'connection', 'upgrade',
  'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions'
])

/**
 * The reply's headers, then its pending cookies (as @fastify/cookie's onSend would add them),
 * as lines for the 101; lines that could split the response are dropped.
 */
export function upgradeHeaders (app: FastifyInstance, reply: FastifyReply): string[] {
  const entries: Array<[string, unknown]> = Object.entries(reply.getHeaders())
  entries.push(['Set-Cookie', takePendingCookies(app, reply)])
  const lines: string[] = []
  for (const [name, value] of entries) {
    if (value === undefined || NOT_FOR_101.has(name.toLowerCase())) continue
    for (const item of Array.isArray(value) ? value : [value]) {
      const line = `${name}: ${String(item)}`
      if (/[\r\n]/.test(line)) {
        reply.log.warn({ header: name }, 'fastify-plezi: dropped a header with a line break from the 101')
        continue
      }
      lines.push(line)
    }
  }
  return lines
}

/** Listener for the `ws` server's 'headers' event. */
export function addUpgradeHeaders (headers: string[], request: IncomingMessage): void {
  const pending = (request as IncomingMessage & { [kUpgrade]?: PendingUpgrade })[kUpgrade]
  if (pending) headers.push(...pending.headers)
}
