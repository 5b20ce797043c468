// One gate for every way into a controller's real-time side — the websocket upgrade and AJAJ —
// so that neither can walk around the other: allowedOrigins, closing, then preConnect on the
// same controller instance that goes on to serve the request (SPEC sections 3 and 5).
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AppContext } from '../context.js'
import type { Controller } from '../controller.js'
import type { MethodTable } from '../method-table.js'
import { reportError } from '../diagnostics.js'

type Gated = Controller & { preConnect (): unknown }

/**
 * Resolves to the controller (made by `make`, only once origin and closing passed, so no user
 * code runs for those refusals) when the request may go on to its handler, or `null` once the
 * gate has sent the refusal: 403 for a browser `Origin` that is not allowed, 503 while the app
 * closes, 403 (or the status preConnect set on `this.reply`) when preConnect returns `false`,
 * 500 when it throws; a reply preConnect sent itself is left alone.
 */
export async function passGate<C extends Controller> (context: AppContext, table: MethodTable, request: FastifyRequest, reply: FastifyReply, make: () => C): Promise<C | null> {
  const origin = request.headers.origin
  const allowed = context.options.allowedOrigins
  if (origin !== undefined && allowed !== undefined && !allowed(origin)) {
    request.log.info({ origin }, 'fastify-plezi: refused for its Origin')
    reply.code(403).send()
    return null
  }
  if (context.closing) {
    reply.code(503).send()
    return null
  }
  const controller = make()
  if (!table.hooks.has('preConnect')) return controller
  let accepted: unknown
  try {
    accepted = await (controller as C & Gated).preConnect()
  } catch (err) {
    request.log.error({ err }, 'fastify-plezi: preConnect failed')
    reportError(err, 'preConnect')
    if (!reply.sent) reply.code(500).send()
    return null
  }
  if (reply.sent) return null
  if (accepted === false) {
    reply.code(reply.statusCode >= 400 ? reply.statusCode : 403).send()
    return null
  }
  // the app may have started closing while an async preConnect ran
  if (context.closing) {
    reply.code(503).send()
    return null
  }
  return controller
}
