// ES module entry (bundlers and Node): PleziClient with `ws` as the fallback WebSocket for
// Node versions without a global one. Browser bundlers resolve 'ws' to its stub, never used
// there because browsers have a global WebSocket.
import WebSocket from 'ws'
import { Client, PleziClient } from './client.js'
import { Presence } from './presence.js'

PleziClient.WebSocket ??= WebSocket

declare module './client.js' {
  interface Client<S, C> {
    /** Follows the presence frames of `channel` (sent after the server's `subscribePresence`). ES module only. */
    presence (channel: string): Presence
  }
}
// Not in the IIFE bundle (its size budget): added to the class here.
Client.prototype.presence = function (this: Client, channel: string): Presence {
  return new Presence(this as unknown as ConstructorParameters<typeof Presence>[0], channel)
}

export { PleziClient }
export { Ajaj } from './ajaj.js'
export { Presence } from './presence.js'
export type { PresenceEntry, PresenceList, PresenceMeta } from './presence.js'
export type { Handlers, PleziClientConstructor } from './client.js'
export type * from './types.js'
