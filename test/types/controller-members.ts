// What the public types of a controller and of the options allow, and what they must refuse.
import Fastify from 'fastify'
import plezi, { Controller, type PleziOptions } from 'fastify-plezi'

class Members extends Controller {
  preConnect () {
    this.reply.header('x-gate', 'passed')                   // a FastifyReply, no `!` needed
    this.reply.setCookie('csrf', 'token', { httpOnly: true }) // @fastify/cookie's decorators
    this.cookies.set('session', 'abc', { maxAge: 60 })
    return this.params.id !== undefined
  }

  index () {
    // @ts-expect-error: reply is read-only (a getter)
    this.reply = null
    return this.request.url
  }
}

const app = Fastify()
await app.register(plezi, { allowedOrigins: ['https://app.example'], redis: 'redis://127.0.0.1:6379' })
await app.register(plezi, { allowedOrigins: (origin: string) => origin.endsWith('.example'), redis: false })
app.plezi.route('/members', Members)

// @ts-expect-error: allowedOrigins is an array of origins or a function, not one string
const one: PleziOptions = { allowedOrigins: 'https://app.example' }
// @ts-expect-error: redis is a URL, ioredis options or false
const port: PleziOptions = { redis: 6379 }
// @ts-expect-error: routes take Controller classes
app.plezi.route('/nope', class NotAController {})

export { one, port }
