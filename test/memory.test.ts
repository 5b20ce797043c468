// What an open connection keeps alive after the 101 (bench/heap.js finds it; this proves the
// releases stay in place): never the upgrade's ServerResponse, while this.request stays whole.
import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { ServerResponse } from 'node:http'
import { Controller } from '../lib/index.js'
import { build, connect, deferred } from './helpers.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

// A WeakRef is only cleared by a full GC in a later task than the one that last read it.
async function collected (ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  return ref.deref() === undefined
}

t.test('the upgrade\'s ServerResponse is let go after the 101; this.request stays usable', async (t) => {
  let response: WeakRef<ServerResponse> | undefined
  const opened = deferred<Controller>()
  class Room extends Controller {
    preConnect () {
      response = new WeakRef(this.reply.raw)
      return true
    }

    onOpen () { opened.resolve(this) }
    onMessage (data: string) { this.write(`${data} ${String(this.request.headers['x-name'])} ${this.request.raw.url ?? ''}`) }
  }
  const { wsUrl } = await build(t, (app) => { app.plezi.route('/room', Room) })
  const client = await connect(t, `${wsUrl}/room`, { headers: { 'x-name': 'ada' } })
  const controller = await opened.promise
  t.ok(response, 'preConnect saw the reply')
  t.ok(await collected(response!), 'nothing keeps the ServerResponse alive once the socket is open')
  t.throws(() => controller.reply, { code: 'PLZ_ERR_NO_REPLY' }, 'the reply is still out of reach')
  client.send('hello')
  t.equal(await client.next(), 'hello ada /room', 'the request (headers, raw) and the socket still work')
})
