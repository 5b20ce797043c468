// README, "Nothing missed: history and recovery": the server side and the client side, as written.
import Fastify from 'fastify'
import plezi, { Controller } from 'fastify-plezi'

const app = Fastify()
await app.register(plezi, {
  redis: 'redis://127.0.0.1:6379', // without it, history is kept in the process
  history: { channels: ['chat/#', 'orders/+'], size: 100, ttl: 300_000 }
})

class Room extends Controller {
  static autoDispatch = true
  async onOpen () {
    // `_sub_` goes to the client first, then what it missed, then the live messages
    const position = await this.subscribe('chat/lobby') // { epoch, offset, recovered, wasRecovering }
    this.log.debug({ position }, 'subscribed')
    await this.subscribe('orders/7', (order, channel, at) => { // handlers get the position too
      this.write({ event: 'order', order, offset: at?.offset })
    })
  }
  say (m: { text: string }) { this.publish('chat/lobby', { event: 'chat', text: m.text }) }
}
app.plezi.route('/room', Room)

// the last 50 lines, e.g. to render the page: { epoch, offset, messages: [{ offset, message }] }
const backlog = await app.plezi.history('chat/lobby', { limit: 50 })

import { PleziClient, type Positions } from 'fastify-plezi/client'

const kept = JSON.parse(sessionStorage.getItem('positions') ?? '{}') as Positions
const client = new PleziClient('/room', true, { positions: kept })
client.onpublish = (data, channel) => console.log(channel, data)
client.onresync = ({ channel }) => { void fetch(`/state?channel=${encodeURIComponent(channel)}`) } // reload it
addEventListener('pagehide', () => { sessionStorage.setItem('positions', JSON.stringify(client.positions)) })

// Not in the README: history.checkInterval takes ms or false.
import type { PleziOptions } from 'fastify-plezi'

const checked: PleziOptions['history'] = { channels: ['chat/#'], checkInterval: 30_000 }
const unchecked: PleziOptions['history'] = { channels: ['chat/#'], checkInterval: false }
// @ts-expect-error a string is not an interval
const wrong: PleziOptions['history'] = { channels: ['chat/#'], checkInterval: '30s' }

export { backlog, checked, unchecked, wrong }
