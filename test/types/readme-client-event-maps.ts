// README, "TypeScript: event maps" (its "compile error" line must stay one).
import { PleziClient } from 'fastify-plezi/client'

interface ServerEvents { chat (msg: { event: 'chat', from: string, text: string }): void }
interface ClientEvents { sum (msg: { a: number, b: number }): { event: 'sum', result: number } }

const client = new PleziClient<ServerEvents, ClientEvents>('ws://localhost:3000/calc')
client.chat = (msg) => console.log(msg.from, msg.text)               // msg is typed
const { result } = await client.request({ event: 'sum', a: 1, b: 2 }) // result: number
// @ts-expect-error: `a` must be a number
client.request({ event: 'sum', a: '1' })                             // compile error

const sum: number = result
export { sum }
