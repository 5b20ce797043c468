// README, "Websocket hooks": the hooks of a controller, with `this.reply.code(401)` in preConnect.
import { Controller } from 'fastify-plezi'

class Room extends Controller {
  async preConnect () {                 // before the upgrade (and before AJAJ events)
    if (this.cookies.get('user') === undefined) { this.reply.code(401); return false }
    return true
  }
  onOpen () {}                          // after the upgrade
  onMessage (data: string | Buffer) {}  // text frames as string, binary as Buffer
  onDrained () {}                       // the send buffer emptied after back-pressure
  onShutdown () {}                      // app.close(): still able to write
  onClose () {}                         // once, after the connection closed
}

export { Room }
