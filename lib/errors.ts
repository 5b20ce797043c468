// Every error the plugin throws, with a stable code. A test keeps this table and the README's in sync.
import { createError } from '@fastify/error'

/** A bad option given to `app.register(plezi, options)`. */
export const PLZ_ERR_OPTION = createError('PLZ_ERR_OPTION', 'fastify-plezi: invalid option "%s": %s', 500, TypeError)
/** `app.plezi.route()` was given something that is not a Controller class, or a bad path. */
export const PLZ_ERR_ROUTE = createError('PLZ_ERR_ROUTE', 'fastify-plezi: app.plezi.route(%s): %s', 500, TypeError)
/** @fastify/websocket was registered before fastify-plezi, which registers (and configures) it itself. */
export const PLZ_ERR_WEBSOCKET_REGISTERED = createError(
  'PLZ_ERR_WEBSOCKET_REGISTERED',
  'fastify-plezi registers @fastify/websocket itself (to own shutdown and the 101 headers): register fastify-plezi instead of it, before your other websocket routes'
)
/** `Controller.publish()` could not tell which app to publish through. */
export const PLZ_ERR_NO_APP = createError('PLZ_ERR_NO_APP', 'fastify-plezi: %s.publish(): %s')
/** A connection-only member (subscribe, …) was used outside a websocket connection. */
export const PLZ_ERR_NOT_CONNECTED = createError('PLZ_ERR_NOT_CONNECTED', 'fastify-plezi: %s() needs an open websocket connection')
/** Cookies were set after the response (or the 101) was sent. */
export const PLZ_ERR_COOKIES_SENT = createError(
  'PLZ_ERR_COOKIES_SENT',
  'fastify-plezi: cookies can be set in HTTP actions and in preConnect only; the headers of this connection were already sent'
)
/** `this.reply` was read after the websocket opened: the 101 is gone, there is no HTTP reply left. */
export const PLZ_ERR_NO_REPLY = createError(
  'PLZ_ERR_NO_REPLY',
  'fastify-plezi: this.reply exists in HTTP actions and preConnect only; this websocket is open, its 101 was already sent (use this.write)'
)
/** A channel that is not a non-empty string, or a literal channel with the wildcards `+` / `#`. */
export const PLZ_ERR_CHANNEL = createError('PLZ_ERR_CHANNEL', 'fastify-plezi: %s', 500, TypeError)
/** A message (published or written) that has no wire form. */
export const PLZ_ERR_MESSAGE = createError('PLZ_ERR_MESSAGE', 'fastify-plezi: %s', 500, TypeError)
/** The pub/sub engine (Redis) could not be reached at `register`. */
export const PLZ_ERR_ENGINE = createError('PLZ_ERR_ENGINE', 'fastify-plezi: %s')

export const errorCodes = {
  PLZ_ERR_OPTION,
  PLZ_ERR_ROUTE,
  PLZ_ERR_WEBSOCKET_REGISTERED,
  PLZ_ERR_NO_APP,
  PLZ_ERR_NOT_CONNECTED,
  PLZ_ERR_COOKIES_SENT,
  PLZ_ERR_NO_REPLY,
  PLZ_ERR_CHANNEL,
  PLZ_ERR_MESSAGE,
  PLZ_ERR_ENGINE
}
