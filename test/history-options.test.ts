// The `history` option: checked at register with errors that name it, refused with an
// app-supplied emitter, and its channel patterns matched as mqemitter matches them.
import t from 'tap'
import Fastify from 'fastify'
import mqemitter from 'mqemitter'
import plezi from '../lib/index.js'
import { resolveOptions } from '../lib/options.js'
import { HistoryChannels, matchPattern } from '../lib/pubsub/history/channels.js'

async function registerWith (options: unknown): Promise<unknown> {
  const app = Fastify()
  try {
    await app.register(plezi, options as never)
    await app.ready()
    return null
  } catch (err) {
    return err
  } finally {
    await app.close()
  }
}

t.test('bad history options fail register with PLZ_ERR_OPTION naming history', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [true, /"history": expected an object/],
    [['chat/#'], /"history": expected an object/],
    [null, /"history": expected an object/],
    [{}, /"history\.channels": expected a non-empty array/],
    [{ channels: [] }, /"history\.channels": expected a non-empty array .* received an empty array/],
    [{ channels: 'chat/#' }, /"history\.channels"/],
    [{ channels: ['chat/#', 7] }, /"history\.channels": entry 1 must be a non-empty string/],
    [{ channels: [''] }, /"history\.channels": entry 0/],
    [{ channels: ['chat+'] }, /"history\.channels": entry 0: "\+" and "#" are wildcards for a whole level/],
    [{ channels: ['a/#b'] }, /"history\.channels"/],
    [{ channels: ['chat'], size: 0 }, /"history\.size"/],
    [{ channels: ['chat'], size: 1.5 }, /"history\.size"/],
    [{ channels: ['chat'], size: '100' }, /"history\.size"/],
    [{ channels: ['chat'], ttl: -1 }, /"history\.ttl"/],
    [{ channels: ['chat'], ttl: 1000, metaTtl: 10 }, /"history\.metaTtl": must be at least history\.ttl/],
    [{ channels: ['chat'], sizes: 10 }, /"history": unknown key "sizes"; known keys are channels, size, ttl, metaTtl/]
  ]
  for (const [history, message] of bad) {
    t.match(await registerWith({ history }), { code: 'PLZ_ERR_OPTION', message }, `history: ${JSON.stringify(history)}`)
  }
})

t.test('history with an app-supplied emitter fails register, naming history', async (t) => {
  const emitter = mqemitter()
  t.teardown(() => new Promise<void>((resolve) => emitter.close(() => resolve())))
  t.match(await registerWith({ emitter, history: { channels: ['chat'] } }), {
    code: 'PLZ_ERR_OPTION',
    message: /"history": needs the in-process engine or Redis/
  })
})

t.test('defaults, and the caller\'s object is left as it is', async (t) => {
  const history = Object.freeze({ channels: Object.freeze(['chat/#']) })
  const resolved = resolveOptions({ history }).history!
  t.match(resolved, { size: 100, ttl: 300_000, metaTtl: 86_400_000 })
  t.same(resolved.channels.patterns, ['chat/#'])
  t.equal(resolveOptions({}).history, undefined, 'no history unless asked for')
})

t.test('patterns match as mqemitter\'s: + one level, # the rest (also none)', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['chat/#', 'chat', true], ['chat/#', 'chat/1', true], ['chat/#', 'chat/1/2', true], ['chat/#', 'chatter', false],
    ['orders/+', 'orders/1', true], ['orders/+', 'orders', false], ['orders/+', 'orders/1/2', false],
    ['+/log', 'a/log', true], ['+/log', 'log', false], ['a/#/z', 'a/z', true], ['a/#/z', 'a/b/c/z', true], ['a/#/z', 'a/b', false],
    ['#', 'anything/at/all', true], ['news', 'news', true], ['news', 'news/1', false], ['+', '', true]
  ]
  for (const [pattern, channel, expected] of cases) t.equal(matchPattern(pattern, channel), expected, `${pattern} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(channel)}`)
  const channels = new HistoryChannels(['chat/#', 'orders/+'])
  t.equal(channels.matches('chat/1'), true)
  t.equal(channels.matches('orders/1/2'), false)
  // The memo is bounded: past it, answers stay right.
  for (let i = 0; i < 25_000; i++) channels.matches(`other/${i}`)
  t.equal(channels.matches('chat/2'), true)
  t.equal(channels.matches('other/3'), false)
})
