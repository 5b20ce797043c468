// @fastify/cookie keeps the cookies set with `reply.setCookie()` in a Map on the reply (under
// its symbol `fastify.reply.setCookies`, values already signed, options with its defaults
// applied) and serialises them in its onSend hook. A websocket upgrade never sends its reply,
// so that hook never runs: this module does its job for the 101, with the same serialiser.
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { CookieSerializeOptions } from '@fastify/cookie'

interface PendingCookie { name: string, value: string, opts: CookieSerializeOptions }
type CookieMap = Map<string, PendingCookie> | null | undefined

interface CookieApp {
  serializeCookie (name: string, value: string, options?: CookieSerializeOptions): string
}

const DESCRIPTION = 'fastify.reply.setCookies'

// Looked up on each reply rather than cached in this module: an app may bring its own copy of
// @fastify/cookie, with its own symbol. Decorators live on the prototype, the Map on the reply.
function setCookiesKey (reply: FastifyReply): symbol | undefined {
  for (let o: object | null = reply; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    const key = Object.getOwnPropertySymbols(o).find((s) => s.description === DESCRIPTION)
    if (key !== undefined) return key
  }
  return undefined
}

/**
 * The pending cookies of `reply` as `Set-Cookie` header values, serialised as @fastify/cookie's
 * onSend would; the Map is emptied, so that they cannot be sent a second time.
 */
export function takePendingCookies (app: FastifyInstance, reply: FastifyReply): string[] {
  const key = setCookiesKey(reply)
  if (key === undefined) return []
  const pending = (reply as unknown as Record<symbol, CookieMap>)[key]
  if (!pending || pending.size === 0) return []
  const serialize = (app as unknown as CookieApp).serializeCookie
  const values = [...pending.values()].map((c) => serialize(c.name, c.value, c.opts))
  pending.clear()
  return values
}

/**
 * @fastify/websocket keeps an upgraded request's reply alive as long as the socket, so the
 * cookie Map — empty, and never used again once the 101 is out — would cost about 170 bytes
 * per open connection.
 */
export function releasePendingCookies (reply: FastifyReply): void {
  const key = setCookiesKey(reply)
  if (key !== undefined && Object.hasOwn(reply, key)) (reply as unknown as Record<symbol, CookieMap>)[key] = null
}
