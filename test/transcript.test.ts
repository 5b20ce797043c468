// Wire transcripts, kept as tap snapshots: a change to what goes over the wire shows up here.
import t from 'tap'
import Fastify from 'fastify'
import plezi, { Controller, type EventMessage } from '../lib/index.js'
import { Client } from './helpers.js'

type Line = string

function describe (frame: string | Buffer): string {
  return typeof frame === 'string' ? `text ${frame}` : `binary ${frame.toString('hex')}`
}

/** Runs `script` on a client of a fresh app and returns the transcript of both directions. */
async function transcript (Klass: new () => Controller, script: (say: (data: string | Buffer | object) => Promise<void>, app: ReturnType<typeof Fastify>) => Promise<void>): Promise<Line[]> {
  const app = Fastify()
  await app.register(plezi, { pingInterval: 0 })
  app.plezi.route('/ws', Klass)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const lines: Line[] = []
  const client = new Client(`ws://127.0.0.1:${port}/ws`)
  await client.opened
  let seen = 0
  const flush = () => { while (seen < client.frames.length) lines.push(`< ${describe(client.frames[seen++])}`) }
  // Sends, then waits for the server to have read it and answered (ws pongs in order).
  const say = async (data: string | Buffer | object) => {
    flush()
    const wire = typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data)
    lines.push(`> ${describe(wire)}`)
    client.ws.send(wire)
    client.ws.ping()
    await new Promise((resolve) => client.ws.once('pong', resolve).once('close', resolve))
    await new Promise((resolve) => setImmediate(resolve))
  }
  await script(say, app)
  const closed = await client.closed
  flush()
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
  const lines = await transcript(Echo, async (say, app) => {
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
    chat (m: EventMessage) { return { event: 'chat', text: m.text } }
    whisper () { return 'a plain string' }
    fail () { throw new Error('nope') }
    quiet () {}
  }
  const lines = await transcript(Chat, async (say) => {
    await say({ event: 'chat', text: 'hi' })
    await say({ event: 'chat', text: 'with id', _EID_: 1 })
    await say({ event: 'whisper', _EID_: 'w' })
    await say({ event: 'quiet', _EID_: 2 })
    await say({ event: 'missing', _EID_: 3 })
    await say({ event: 'fail', _EID_: 4 })
    await say({ event: 'onOpen' })
    await say('not json')
  })
  t.matchSnapshot(lines)
})
