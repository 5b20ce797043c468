// `this.cookies`: get/set/delete on top of @fastify/cookie, for HTTP actions and for the 101.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { CookieSerializeOptions } from '@fastify/cookie'
import { PLZ_ERR_COOKIES_SENT } from '../errors.js'

export type CookieOptions = CookieSerializeOptions

export interface CookieGetOptions {
  /** Verify and strip the signature (default: true when the app configured a cookie secret). */
  signed?: boolean
}

interface CookieApp {
  serializeCookie (name: string, value: string, options?: CookieSerializeOptions): string
  signCookie?: (value: string) => string
}

// @fastify/cookie gives every reply a Map of pending Set-Cookie values. @fastify/websocket keeps
// an upgraded request's reply alive as long as the socket, so that Map — empty, and never used
// again once the 101 is out — would cost about 170 bytes per open connection.
let setCookiesKey: symbol | undefined
function releaseSetCookieMap (reply: FastifyReply): void {
  setCookiesKey ??= Object.getOwnPropertySymbols(reply).find((s) => s.description === 'fastify.reply.setCookies')
  if (setCookiesKey !== undefined && Object.hasOwn(reply, setCookiesKey)) {
    (reply as unknown as Record<symbol, unknown>)[setCookiesKey] = null
  }
}

export class Cookies {
  /**
   * `upgradeHeaders` is set for a websocket upgrade: cookies set then go both on the
   * refusal (through `reply`) and, serialised by hand, on the 101 response.
   */
  constructor (
    private readonly app: FastifyInstance,
    private readonly request: FastifyRequest,
    private reply: FastifyReply | null,
    private upgradeHeaders: string[] | null
  ) {}

  /** Once the 101 is sent: nothing more can be set, and the reply need not stay in memory. */
  seal (): void {
    if (this.reply !== null) releaseSetCookieMap(this.reply)
    this.reply = null
    this.upgradeHeaders = null
  }

  private get signing (): boolean {
    return typeof (this.app as unknown as CookieApp).signCookie === 'function'
  }

  /** The cookie's value; a signed cookie with a bad signature reads as `undefined`. */
  get (name: string, options: CookieGetOptions = {}): string | undefined {
    const raw = this.request.cookies?.[name]
    if (raw === undefined) return undefined
    if (!(options.signed ?? this.signing)) return raw
    const result = this.request.unsignCookie(raw)
    return result.valid && result.value !== null ? result.value : undefined
  }

  /** Sets a cookie (signed when the app has a cookie secret, unless `signed: false`). */
  set (name: string, value: string, options: CookieOptions = {}): this {
    const reply = this.reply
    if (reply === null || reply.sent) throw new PLZ_ERR_COOKIES_SENT()
    const opts: CookieOptions = { path: '/', sameSite: 'lax', ...options }
    const signed = opts.signed ?? this.signing
    reply.setCookie(name, value, { ...opts, signed })
    if (this.upgradeHeaders !== null) {
      const app = this.app as unknown as CookieApp
      const stored = signed && app.signCookie ? app.signCookie(value) : value
      const { signed: _ignored, ...serializeOptions } = opts
      this.upgradeHeaders.push(`Set-Cookie: ${app.serializeCookie(name, stored, serializeOptions)}`)
    }
    return this
  }

  /** Deletes a cookie (sets it expired). Give the same `path`/`domain` it was set with. */
  delete (name: string, options: CookieOptions = {}): this {
    return this.set(name, '', { ...options, signed: false, expires: new Date(0), maxAge: 0 })
  }
}
