// AJAJ: `POST /prefix` with a JSON `{event, …}` body runs the auto-dispatch handler over HTTP,
// so that PleziClient can fall back to it when websockets are unavailable. It passes the same
// gate as the websocket upgrade (origin, closing, preConnect) before any handler runs.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AppContext } from '../context.js'
import type { Controller } from '../controller.js'
import type { MethodTable } from '../method-table.js'
import { encodeReply, errorReply, eventIdOf, findHandler } from '../websocket/dispatch.js'
import { passGate } from './gate.js'
import { respond } from './respond.js'
import { reportError } from '../diagnostics.js'

export interface AjajBody { event: string, _EID_?: unknown }

/**
 * Only `application/json` is AJAJ: a browser sends it cross-site only after a CORS preflight,
 * whereas a form (`application/x-www-form-urlencoded`, `multipart/form-data`, `text/plain`)
 * needs none, so an HTML form on another site must not be able to fire events.
 */
export function isJsonBody (request: FastifyRequest): boolean {
  const type = request.headers['content-type']
  return typeof type === 'string' && type.split(';', 1)[0].trim().toLowerCase() === 'application/json'
}

export async function runAjaj (context: AppContext, table: MethodTable, controller: Controller, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const body = request.body as AjajBody
  const event = body.event
  const id = eventIdOf(body)
  const handler = findHandler(table, event)
  // a REST body may well have a field called "event": that is an ordinary create(), ungated
  const create = table.rest.get('create')
  if (handler === null && create !== undefined) return respond(reply, create.call(controller))
  if (await passGate(context, table, request, reply, () => controller) === null) return reply
  if (handler === null) return reply.code(404).type('application/json; charset=utf-8').send(errorReply(404, event, id))
  let value: unknown
  let json: string | Buffer | Uint8Array | undefined
  try {
    value = await handler.call(controller, body)
    // like a websocket reply: an object gets the request's _EID_ (a string is sent as JSON text)
    json = typeof value === 'string' ? JSON.stringify(value) : encodeReply(value, id)
  } catch (err) {
    // a throw, or a reply that cannot be serialised
    controller.log.error({ err, event }, 'fastify-plezi: AJAJ event handler failed')
    reportError(err, 'event')
    return reply.code(500).type('application/json; charset=utf-8').send(errorReply(500, event, id))
  }
  if (reply.sent) return reply
  if (json === undefined) return reply.code(204).send()
  if (value instanceof Uint8Array) return reply.type('application/octet-stream').send(value)
  return reply.type('application/json; charset=utf-8').send(json)
}
