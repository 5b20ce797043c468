// README, "Auto-dispatch": Plezi's MyEcho example in TypeScript.
import Fastify from 'fastify'
import plezi, { Controller, type EventMessage } from 'fastify-plezi'

class MyEcho extends Controller {
  static autoDispatch = true
  index () { return 'Use websockets to connect.' }
  // {"event":"echo","data":"hi"} → {"event":"echo","data":"You said: hi"}
  echo (message: EventMessage) {
    return { event: 'echo', data: `You said: ${String(message.data)}` }
  }
  // any other event
  unknown (message: EventMessage) {
    return { event: 'unknown', data: `Unknown event: ${message.event}` }
  }
}

const app = Fastify({ logger: true })
await app.register(plezi)
app.plezi.route('/', MyEcho)
await app.listen({ port: 3000 })
