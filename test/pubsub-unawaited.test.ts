// One frame must not end the process: an event handler that publishes (unawaited) to a room
// the client names gets a 500 _err_ for `room: '#'`, and the server goes on. The server runs
// in a child process of its own, where an unhandled rejection is fatal as in production.
import t from 'tap'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { connect } from './helpers.js'

t.test('a bad channel from client input is a 500 _err_, not a crash', async (t) => {
  const child = fork(fileURLToPath(new URL('./fixtures/rooms-server.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('@tapjs/typescript/import')],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc']
  })
  let stderr = ''
  child.stderr!.on('data', (chunk) => { stderr += String(chunk) })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.disconnect()
      await exited
    }
  })
  const [{ port }] = await once(child, 'message') as [{ port: number }]
  const c = await connect(t, `ws://127.0.0.1:${port}/rooms`)
  t.same(await c.json(), { event: 'ready' })
  for (const room of ['#', '+', 'a/#']) {
    c.send({ event: 'say', room, text: 'hi' })
    t.same(await c.json(), { event: '_err_', status: 500, request: 'say' }, `room ${room}: a 500 _err_`)
  }
  c.send({ event: 'say', room: 'lobby', text: 'still here' })
  t.same(await c.json(), { event: 'said', text: 'still here' }, 'the server goes on publishing')
  t.same(await c.json(), { event: 'sent' })
  t.equal(child.exitCode, null, 'the process is alive')
  t.notMatch(stderr, /Unhandled|PLZ_ERR/, 'nothing reached the process\'s last-resort handlers')
})
