// Logs a Fastify user expects: websocket open/close and subscriptions at debug, client mistakes
// at info without stack traces, server faults at error, shutdown at info with counts.
import t from 'tap'
import { Controller } from '../lib/index.js'
import { build, connect, logCapture } from './helpers.js'

const DEBUG = 20
const INFO = 30
const ERROR = 50

class Logged extends Controller {
  static autoDispatch = true
  async onOpen () { await this.subscribe('news') }
  boom () { throw new Error('server fault') }
  ping () { return { event: 'pong' } }
}

t.test('open, subscribe and close at debug; protocol mistakes at info; faults at error; shutdown at info', async (t) => {
  const { lines, logger, waitFor } = logCapture('debug')
  const { app, wsUrl } = await build(t, (app) => { app.plezi.route('/logged', Logged) }, { maxPayload: 100 }, { logger })
  const find = (pattern: RegExp) => lines.filter((l) => pattern.test(l.msg))

  const polite = await connect(t, `${wsUrl}/logged`)
  polite.send({ event: 'ping', _EID_: 1 })
  await polite.take(2)
  t.equal(find(/websocket open/)[0]?.level, DEBUG)
  t.same(find(/subscribed/).map((l) => [l.level, l.channel]), [[DEBUG, 'news']])
  polite.ws.close(4321, 'bye now')
  await polite.closed
  t.match(await waitFor(/websocket closed/), { level: DEBUG, code: 4321, reason: 'bye now', duration: Number })

  const garbled = await connect(t, `${wsUrl}/logged`)
  garbled.send('not json')
  t.equal((await garbled.closed).code, 1007)
  const malformed = find(/malformed frame/)[0]
  t.match(malformed, { level: INFO, code: 1007 })
  t.notOk(malformed.err, 'a client mistake carries no stack trace')

  const huge = await connect(t, `${wsUrl}/logged`)
  huge.send('x'.repeat(1000))
  t.equal((await huge.closed).code, 1009)
  const tooBig = await waitFor(/protocol error of the client/)
  t.match(tooBig, { level: INFO, code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' })
  t.notOk(tooBig.err, 'no stack trace for an oversized frame')

  const faulty = await connect(t, `${wsUrl}/logged`)
  faulty.send({ event: 'boom' })
  t.match(await faulty.json(), { event: '_err_', status: 500 })
  t.match(find(/event handler failed/)[0], { level: ERROR, err: { message: 'server fault' } })

  await app.close()
  t.match(find(/shutting down websockets/)[0], { level: INFO, connections: 1 })
  t.match(find(/websockets closed/)[0], { level: INFO, connections: 1, duration: Number })
})

t.test('one info line at start says which engine carries messages', async (t) => {
  const { lines, logger } = logCapture('info')
  await build(t, () => {}, { appName: 'logs_app' }, { logger })
  const start = lines.filter((l) => /fastify-plezi: pub\/sub through/.test(l.msg))
  t.equal(start.length, 1)
  t.match(start[0], { level: INFO, appName: 'logs_app', engine: 'the in-process mqemitter', compression: false })
})
