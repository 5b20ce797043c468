// EventsOf<Chat>: the controller's own handlers are the client's event map (payloads, replies),
// and nothing else of the class is an event there.
import { Controller, type ControllerHooks, type EventMessage, type EventsOf } from '../../lib/index.js'
import { PleziClient } from '../../client/index.js'
import { expectType, type Equal } from './expect.js'

interface ChatServerEvents {
  said (msg: { event: 'said', from: string, text: string }): void
}

class Room extends Controller {
  // inherited events are events too
  topic () { return { event: 'topic' as const, topic: 'general' } }
}

class Chat extends Room implements ControllerHooks {
  static autoDispatch = true
  preConnect () { return true }
  onOpen () {}
  onMessage (data: string | Buffer) { void data }
  onDrained () {}
  onShutdown () { this.write('bye') }
  onClose () {}
  index () { return 'the chat page' }
  show () { return 'a message' }
  new () { return 'a form' }
  create () { return 'created' }
  update () { return 'updated' }
  delete () { return 'deleted' }
  unknown (msg: EventMessage) { return { event: 'unknown', name: msg.event } }
  override write (data: string) { return super.write(data) }
  override toString () { return 'Chat' }
  say (msg: { text: string }) { return { event: 'said' as const, from: 'me', text: msg.text } }
  async sum (msg: { a: number, b: number }) { return { event: 'sum' as const, result: msg.a + msg.b } }
  ping () { return { event: 'pong' as const } }
  shout (msg: { text: string }): void { this.write(msg.text.toUpperCase()) }
  list () { return [1, 2, 3] }
  _helper () { return 'off the wire' }
}

expectType<Equal<keyof EventsOf<Chat>, 'topic' | 'say' | 'sum' | 'ping' | 'shout' | 'list'>>()

const client = new PleziClient<ChatServerEvents, EventsOf<Chat>>('ws://localhost:3000/chat')
client.said = (msg) => { expectType<Equal<typeof msg.text, string>>() }

export async function requests (): Promise<void> {
  // the reply is the handler's (awaited) return type
  const said = await client.request({ event: 'say', text: 'hi' })
  expectType<Equal<typeof said, { event: 'said', from: string, text: string }>>()
  const sum = await client.request({ event: 'sum', a: 1, b: 2 })
  expectType<Equal<typeof sum.result, number>>()
  const pong = await client.request({ event: 'ping' })
  expectType<Equal<typeof pong.event, 'pong'>>()
  const topic = await client.request({ event: 'topic' })
  expectType<Equal<typeof topic.topic, string>>()
  // a handler that returns nothing (or an array) sends no reply that a request could get
  expectType<Equal<Awaited<ReturnType<typeof client.request<'shout'>>>, never>>()
  expectType<Equal<Awaited<ReturnType<typeof client.request<'list'>>>, never>>()

  // @ts-expect-error 2322 the payload is checked against say(msg: { text: string })
  await client.request({ event: 'say', text: 42 })
  // @ts-expect-error 2345 text is missing
  await client.request({ event: 'say' })
  // @ts-expect-error 2322 an unknown event
  await client.request({ event: 'nope' })
  // @ts-expect-error 2339 the reply has no such field
  void said.result
}

export function notEvents (): void {
  client.emit({ event: 'say', text: 'hi' })
  client.emit({ event: 'ping' }, () => {})
  // @ts-expect-error 2322 a hook is not an event
  client.emit({ event: 'onMessage' })
  // @ts-expect-error 2322 a hook is not an event
  client.emit({ event: 'preConnect' })
  // @ts-expect-error 2322 a hook is not an event
  void client.request({ event: 'onOpen' })
  // @ts-expect-error 2322 a REST action is not an event
  client.emit({ event: 'index' })
  // @ts-expect-error 2322 a REST action is not an event
  client.emit({ event: 'delete' })
  // @ts-expect-error 2322 the unknown fallback is not an event of its own
  client.emit({ event: 'unknown' })
  // @ts-expect-error 2322 a _helper is not an event
  client.emit({ event: '_helper' })
  // @ts-expect-error 2322 a base Controller member is not an event (even overridden)
  client.emit({ event: 'write' })
  // @ts-expect-error 2322 a base Controller member is not an event
  client.emit({ event: 'subscribe' })
  // @ts-expect-error 2322 the presence members are base members too
  client.emit({ event: 'track' })
  // @ts-expect-error 2322 the presence members are base members too
  client.emit({ event: 'subscribePresence' })
  // @ts-expect-error 2322 Object's members are not events
  client.emit({ event: 'toString' })
}
