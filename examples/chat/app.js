// The chat room of Plezi's README, on fastify-plezi: the nickname comes from the path,
// everyone hears joins, leaves and messages, a shutdown says goodbye, and the room's channel
// keeps history, so a page that drops off (or whose server restarts) misses no line; presence
// shows who is in the room, across every server sharing the Redis, cleaned up after a crash.
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import plezi, { Controller } from 'fastify-plezi'

const page = readFileSync(new URL('./index.html', import.meta.url), 'utf8')

/** The page checks the same rule before it connects, so a person sees why instead of a refusal. */
export const NICKNAME = /^(?!__proto__$)[\p{L}\p{N}_.-]{1,32}$/u // __proto__ can be no presence key

export class ChatRoom extends Controller {
  static autoDispatch = true

  // GET / → the chat page
  index () { return page }

  // websocket on /<nickname>: refuse a connection without a valid nickname
  preConnect () {
    const nickname = String(this.request.params.id ?? '') // the path's own segment, never a query or body field
    if (!NICKNAME.test(nickname)) return false
    this.nickname = nickname
    return true
  }

  async onOpen () {
    // `chat` is a history channel (see buildApp): after a reconnect the page gets what it missed
    const position = await this.subscribe('chat')
    // who is here: this connection is present under its nickname, and the page is told of changes
    await this.track('chat', this.nickname)
    await this.subscribePresence('chat')
    // the same page, back after a drop: it has its lines (and got the missed ones), no second welcome
    if (!position.wasRecovering) this.write({ event: 'notice', text: `Welcome, ${this.nickname}!` })
    await this.publish('chat', { event: 'notice', text: `${this.nickname} joined the chat.` })
  }

  // the client sends {"event":"chat","text":"…"}
  chat (message) {
    const text = String(message.text ?? '').slice(0, 1000)
    if (text === '') return undefined
    this.publish('chat', { event: 'chat', from: this.nickname, text })
    return { event: 'sent' } // answers the client's emit, with its _EID_
  }

  onShutdown () { this.write({ event: 'notice', text: 'Server shutting down. Goodbye.' }) }

  onClose () { this.publish('chat', { event: 'notice', text: `${this.nickname} left the chat.` }) }
}

/** Builds the app without listening (tests use it too). */
export async function buildApp (options = {}) {
  const { logger = true, ...pleziOptions } = options
  const app = Fastify({ logger })
  await app.register(plezi, { history: { channels: ['chat'], size: 200 }, ...pleziOptions })
  app.plezi.route('/', ChatRoom)
  return app
}
