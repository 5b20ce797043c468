// AJAJ: `POST /prefix` with a JSON `{event, …}` body runs the auto-dispatch handler over HTTP,
// so that PleziClient can fall back to it when websockets are unavailable.
import type { FastifyReply } from 'fastify'
import type { Controller } from './controller.js'
import type { MethodTable } from './method-table.js'
import { encodeReply, errorReply } from './dispatch.js'
import { respond } from './respond.js'

export async function runAjaj (controller: Controller, table: MethodTable, body: { event: string, _EID_?: unknown }, reply: FastifyReply): Promise<FastifyReply> {
  const event = body.event
  const id = typeof body._EID_ === 'number' || typeof body._EID_ === 'string' ? body._EID_ : undefined
  const handler = table.events.get(event) ?? table.unknown
  if (handler === undefined) {
    // a REST body may well have a field called "event"
    const create = table.rest.get('create')
    if (create !== undefined) return respond(reply, create.call(controller))
    return reply.code(404).type('application/json; charset=utf-8').send(errorReply(404, event, id))
  }
  let value: unknown
  try {
    value = await handler.call(controller, body)
  } catch (err) {
    controller.log.error({ err, event }, 'fastify-plezi: AJAJ event handler failed')
    return reply.code(500).type('application/json; charset=utf-8').send(errorReply(500, event, id))
  }
  if (reply.sent) return reply
  if (value === undefined || value === null || value === false) return reply.code(204).send()
  if (value instanceof Uint8Array) return reply.type('application/octet-stream').send(value)
  // like a websocket reply: an object gets the request's _EID_ (a string is sent as JSON text)
  const json = typeof value === 'string' ? JSON.stringify(value) : encodeReply(value, id)
  return reply.type('application/json; charset=utf-8').send(json)
}
