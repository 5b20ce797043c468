// The chat room of Plezi's README, on fastify-plezi: the nickname comes from the path,
// everyone hears joins, leaves and messages, and a shutdown says goodbye.
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import plezi, { Controller } from 'fastify-plezi'

const page = readFileSync(new URL('./index.html', import.meta.url), 'utf8')

export class ChatRoom extends Controller {
  static autoDispatch = true

  // GET / → the chat page
  index () { return page }

  // websocket on /<nickname>: refuse a connection without a nickname
  preConnect () {
    const nickname = String(this.request.params.id ?? '').trim() // the path's own segment, never a query or body field
    if (nickname === '' || nickname.length > 32) return false
    this.nickname = nickname
    return true
  }

  async onOpen () {
    await this.subscribe('chat')
    this.write({ event: 'notice', text: `Welcome, ${this.nickname}!` })
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
  await app.register(plezi, pleziOptions)
  app.plezi.route('/', ChatRoom)
  return app
}
