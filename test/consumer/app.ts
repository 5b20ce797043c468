// A consumer app in strict TypeScript, compiled against the packed package (package.test.ts):
// one controller that answers HTTP and websocket events, a plain @fastify/websocket route, and
// PleziClient typed by the controller itself. Prints what it got as JSON, then closes.
import Fastify from 'fastify'
import plezi, { Controller, type ControllerHooks, type EventsOf } from 'fastify-plezi'
import { PleziClient } from 'fastify-plezi/client'

interface ServerEvents {
  joined (msg: { event: 'joined', name: string }): void
}

class Chat extends Controller implements ControllerHooks {
  static autoDispatch = true
  preConnect () {
    if (this.params.name === undefined) this.reply?.code(401)
    return this.params.name !== undefined
  }

  onOpen () { this.write({ event: 'joined', name: String(this.params.name) }) }
  index () { return { page: 'chat' } }
  say (msg: { text: string }) { return { event: 'said' as const, text: msg.text.toUpperCase() } }
}

const app = Fastify()
await app.register(plezi)
app.plezi.route('/chat', Chat)
// the app's own websocket routes still type-check with fastify-plezi imported
app.get('/raw', { websocket: true }, (socket) => { socket.send('raw hello') })
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }

const http: unknown = await (await fetch(`http://127.0.0.1:${port}/chat`)).json()

const client = new PleziClient<ServerEvents, EventsOf<Chat>>(`ws://127.0.0.1:${port}/chat?name=ada`)
const joined = new Promise<string>((resolve) => { client.joined = (msg) => resolve(msg.name) })
const said = await new Promise<{ text: string }>((resolve, reject) => {
  client.onopen = () => { client.request({ event: 'say', text: 'hello' }).then(resolve, reject) }
})
client.close()

// an injected websocket (no TCP socket behind it); listen from onInit, before its first message
const rawMessage = await new Promise<string>((resolve, reject) => {
  app.injectWS('/raw', {}, {
    onInit: (ws) => { ws.once('message', (data) => { ws.terminate(); resolve(String(data)) }) }
  }).catch(reject)
})

await app.close()
console.log(JSON.stringify({ http, joined: await joined, said: said.text, raw: rawMessage }))
