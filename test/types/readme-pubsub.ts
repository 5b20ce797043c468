// README, "Pub/Sub": connection-bound and connectionless subscriptions.
import Fastify from 'fastify'
import plezi, { Controller } from 'fastify-plezi'

const app = Fastify()
await app.register(plezi)

class Chat extends Controller {
  static autoDispatch = true
  async onOpen () {
    await this.subscribe('chat')                              // each message is written to the client
    await this.subscribe('rooms/+/alerts', { pattern: true }) // wildcards, on purpose
    await this.subscribe('rooms/lobby/alerts', (msg, channel) => { // or a handler runs instead,
      this.write({ event: 'alert', channel, msg })                 // in this connection's queue
    })
  }
  say (m: { room: string, text: string }) { this.publish('rooms/' + m.room, { event: 'chat', text: m.text }) }
  leave () { this.unsubscribe('chat') }
}

const stop = await app.plezi.subscribe('orders/#', (order, channel) => {
  app.log.info({ channel, order }, 'order event')
}, { pattern: true })
// later: stop()

app.plezi.route('/chat', Chat)
export { stop }
