// `this.cookies`: get/set/delete on top of @fastify/cookie, for HTTP actions and for the 101.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { CookieSerializeOptions } from '@fastify/cookie'
import { PLZ_ERR_COOKIES_SENT } from '../errors.js'
import { releasePendingCookies } from './reply-cookies.js'

export type CookieOptions = CookieSerializeOptions

export interface CookieGetOptions {
  /** Verify and strip the signature (default: true when the app configured a cookie secret). */
  signed?: boolean
}

export class Cookies {
  // `set` goes through reply.setCookie() like any cookie the app sets, so that one path
  // carries them all to the response, or to the 101 (see reply-cookies.ts), once each.
  constructor (
    private readonly app: FastifyInstance,
    private readonly request: FastifyRequest,
    private reply: FastifyReply | null
  ) {}

  /** Once the 101 is sent: nothing more can be set, and the reply need not stay in memory. */
  seal (): void {
    if (this.reply !== null) releasePendingCookies(this.reply)
    this.reply = null
  }

  private get signing (): boolean {
    return typeof (this.app as { signCookie?: unknown }).signCookie === 'function'
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
    reply.setCookie(name, value, { ...opts, signed: opts.signed ?? this.signing })
    return this
  }

  /** Deletes a cookie (sets it expired). Give the same `path`/`domain` it was set with. */
  delete (name: string, options: CookieOptions = {}): this {
    return this.set(name, '', { ...options, signed: false, expires: new Date(0), maxAge: 0 })
  }
}
