// README, "Presence: who is here": the server side and the client helper, as written.
import Fastify from 'fastify'
import plezi, { Controller } from 'fastify-plezi'

const app = Fastify()
await app.register(plezi, { presence: { ttl: 30_000, interval: 100 } })

class Lobby extends Controller {
  static autoDispatch = true
  async onOpen () {
    const user = String(this.params.user)
    await this.subscribePresence('lobby') // `_presence_` now, then `_presence_diff_` frames
    await this.track('lobby', user, { since: Date.now() }) // untracked when the connection closes
  }
  away () { return this.track('lobby', String(this.params.user), { away: true }) } // an update
  leave () { return this.untrack('lobby') }
  async who () { return { event: 'who', state: await this.presence('lobby') } }
}
app.plezi.route('/lobby', Lobby)

const state = await app.plezi.presence('lobby') // { ann: { metas: [{ since, conn }, …] }, … }
const { keys, connections } = await app.plezi.presenceCount('lobby') // without loading the state

import { PleziClient } from 'fastify-plezi/client'

const client = new PleziClient('ws://127.0.0.1:3000/lobby?user=ann')
const lobby = client.presence('lobby')
lobby.onjoin = (key, current, joined) => { console.log(key, 'is here', joined.metas) } // first meta
lobby.onleave = (key, current, left) => { console.log(key, 'left', left.metas) } // last meta gone
const here = Object.keys(lobby.list())
