// AJAJ: `POST /prefix` with a JSON `{event, …}` body runs the auto-dispatch handler over HTTP,
// so that PleziClient can fall back to it when websockets are unavailable.
import type { FastifyReply } from 'fastify'
import type { Controller } from '../controller.js'
import type { MethodTable } from '../method-table.js'
import { encodeReply, errorReply, eventIdOf, findHandler } from '../websocket/dispatch.js'
import { respond } from './respond.js'

export async function runAjaj (controller: Controller, table: MethodTable, body: { event: string, _EID_?: unknown }, reply: FastifyReply): Promise<FastifyReply> {
  const event = body.event
  const id = eventIdOf(body)
  const handler = findHandler(table, event)
  if (handler === null) {
    // a REST body may well have a field called "event"
    const create = table.rest.get('create')
    if (create !== undefined) return respond(reply, create.call(controller))
    return reply.code(404).type('application/json; charset=utf-8').send(errorReply(404, event, id))
  }
  let value: unknown
  let json: string | Buffer | Uint8Array | undefined
  try {
    value = await handler.call(controller, body)
    // like a websocket reply: an object gets the request's _EID_ (a string is sent as JSON text)
    json = typeof value === 'string' ? JSON.stringify(value) : encodeReply(value, id)
  } catch (err) {
    // a throw, or a reply that cannot be serialised
    controller.log.error({ err, event }, 'fastify-plezi: AJAJ event handler failed')
    return reply.code(500).type('application/json; charset=utf-8').send(errorReply(500, event, id))
  }
  if (reply.sent) return reply
  if (json === undefined) return reply.code(204).send()
  if (value instanceof Uint8Array) return reply.type('application/octet-stream').send(value)
  return reply.type('application/json; charset=utf-8').send(json)
}
