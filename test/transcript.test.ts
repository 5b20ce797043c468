// Wire transcripts, kept as tap snapshots: a change to what goes over the wire shows up here.
import t from 'tap'
import Fastify from 'fastify'
import plezi, { Controller, type EventMessage } from '../lib/index.js'
import { Client } from './helpers.js'

type Line = string

function describe (frame: string | Buffer): string {
  return typeof frame === 'string' ? `text ${frame}` : `binary ${frame.toString('hex')}`
}

type Say = (data: string | Buffer | object, replies?: number) => Promise<void>

/**
 * Runs `script` on a client of a fresh app and returns the transcript of both directions. The
 * script says how many frames answer each message (`say(data, replies)`), and the transcript
 * waits for exactly those: no barrier that only holds for synchronous handlers.
 */
async function transcript (Klass: new () => Controller, greeting: number, script: (say: Say, app: ReturnType<typeof Fastify>) => Promise<void>): Promise<Line[]> {
  const app = Fastify()
  await app.register(plezi, { pingInterval: 0 })
  app.plezi.route('/ws', Klass)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const lines: Line[] = []
  const client = new Client(`ws://127.0.0.1:${port}/ws`)
  await client.opened
  const receive = async (count: number) => {
    for (const frame of await client.take(count)) lines.push(`< ${describe(frame)}`)
  }
  await receive(greeting)
  const say: Say = async (data, replies = 1) => {
    const wire = typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data)
    lines.push(`> ${describe(wire)}`)
    client.ws.send(wire)
    await receive(replies)
  }
  await script(say, app)
  const closed = await client.closed
  for (const frame of client.frames.slice(lines.filter((l) => l.startsWith('<')).length)) lines.push(`< ${describe(frame)}`)
  lines.push(`closed ${closed.code} ${closed.reason}`)
  await app.close()
  return lines
}

t.test('the sample controller of SPEC section 3', async (t) => {
  class Echo extends Controller {
    index () { return 'Hello World!' }
    show () { return `showing object with id: ${String(this.params.id)}` }
    preConnect () { return true }
    onOpen () { this.write('welcome') }
    onMessage (data: string | Buffer) { this.write(typeof data === 'string' ? `echo: ${data}` : data) }
    onShutdown () { this.write('Server shutting down. Goodbye.') }
  }
  const lines = await transcript(Echo, 1, async (say, app) => {
    await say('hello')
    await say('ünïcode ✓')
    await say(Buffer.from([0xde, 0xad, 0xbe, 0xef]))
    await app.close()
  })
  t.matchSnapshot(lines)
})

t.test('an auto-dispatch conversation: ack, replies, _err_, close', async (t) => {
  class Chat extends Controller {
    static autoDispatch = true
    onOpen () { this.write({ event: 'welcome' }) }
    async chat (m: EventMessage) {
      await new Promise((resolve) => setImmediate(resolve)) // an async handler: replies still in order
      return { event: 'chat', text: m.text }
    }
    whisper () { return 'a plain string' }
    fail () { throw new Error('nope') }
    quiet () {}
  }
  const lines = await transcript(Chat, 1, async (say) => {
    await say({ event: 'chat', text: 'hi' })
    await say({ event: 'chat', text: 'with id', _EID_: 1 }, 2)
    await say({ event: 'whisper', _EID_: 'w' }, 2)
    await say({ event: 'quiet', _EID_: 2 }, 1)
    await say({ event: 'missing', _EID_: 3 }, 2)
    await say({ event: 'fail', _EID_: 4 }, 2)
    await say({ event: 'onOpen' })
    await say('not json', 0)
  })
  t.matchSnapshot(lines)
})
