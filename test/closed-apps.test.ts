// A closed app leaves nothing behind in module state: test suites create hundreds of apps,
// and each must be garbage-collectable once closed, even when they all route the same class.
import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import Fastify from 'fastify'
import plezi, { Controller } from '../lib/index.js'
import { contextOf } from '../lib/context.js'
import { Client } from './helpers.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

class Shared extends Controller {
  static autoDispatch = true
  async onOpen () {
    await this.subscribe('news')
    this.write('ready')
  }
}

// Everything the app touched stays inside this function: only the WeakRefs leave it.
async function useAndClose (refs: Array<WeakRef<object>>): Promise<void> {
  const app = Fastify()
  await app.register(plezi, { pingInterval: 0 })
  app.plezi.route('/shared', Shared)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const client = new Client(`ws://127.0.0.1:${port}/shared`)
  await client.opened
  await client.next()
  await Shared.publish('news', 'through the one open app')
  await client.next()
  refs.push(new WeakRef(app), new WeakRef(contextOf(app)!))
  await app.close()
  await client.closed
}

t.test('20 closed apps routing the same class are garbage-collected', async (t) => {
  const refs: Array<WeakRef<object>> = []
  for (let i = 0; i < 20; i++) await useAndClose(refs)
  const alive = (): number => refs.filter((ref) => ref.deref() !== undefined).length / 2
  // A WeakRef's target survives the turn it was read in: collect across a few turns.
  for (let round = 0; round < 10 && alive() > 0; round++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    gc()
  }
  t.equal(alive(), 0, 'no closed app is still reachable')
  t.throws(() => Shared.publish('news', 'x'), { code: 'PLZ_ERR_NO_APP', message: /no app/ }, 'and none is published through')
})
