// Node's diagnostics_channel events, so APM tools and metrics libraries can observe the plugin
// without patches. Publishing costs nothing while a channel has no subscriber.
import { channel } from 'node:diagnostics_channel'

/** `{ type: 'open' | 'close', url, code?, reason?, duration? }` for each websocket connection. */
export const connectionChannel = channel('fastify-plezi:connection')
/** `{ channel, kind }` for each publish (the channel as published, without the appName scope). */
export const publishChannel = channel('fastify-plezi:publish')
/** `{ error, where }` for each error the plugin logs at error level. */
export const errorChannel = channel('fastify-plezi:error')

/** Reports an error to `fastify-plezi:error` (the caller logs it). */
export function reportError (error: unknown, where: string): void {
  if (errorChannel.hasSubscribers) errorChannel.publish({ error, where })
}
