// ES module entry (bundlers and Node): PleziClient with `ws` as the fallback WebSocket for
// Node versions without a global one. Browser bundlers resolve 'ws' to its stub, never used
// there because browsers have a global WebSocket.
import WebSocket from 'ws'
import { PleziClient } from './client.js'

PleziClient.WebSocket ??= WebSocket

export { PleziClient }
export { Ajaj } from './ajaj.js'
export type { Handlers, PleziClientConstructor } from './client.js'
export type * from './types.js'
