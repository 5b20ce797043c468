// Incoming websocket frames: raw `onMessage`, or JSON auto-dispatch (SPEC section 5).
// Per message: one JSON.parse, one Map lookup, one serialisation of the reply.
import type { Connection } from './connection.js'
import type { Action, MethodTable } from '../method-table.js'
import { reportError } from '../diagnostics.js'

/** A parsed auto-dispatch message. */
export interface EventMessage {
  event: string
  _EID_?: number | string
  [key: string]: unknown
}

type EventId = number | string

/** Routes one frame from the socket into the connection's serial queue. */
export function handleIncoming (connection: Connection, data: Buffer, isBinary: boolean): void {
  if (connection.refusing) return
  const table = connection.table
  const controller = connection.controller
  if (!table.autoDispatch) {
    const payload = isBinary ? data : data.toString()
    connection.queue.push(controller.onMessage!, controller, payload)
    connection.checkBacklog()
    return
  }
  if (isBinary) {
    if (table.hooks.has('onMessage')) connection.queue.push(controller.onMessage!, controller, data)
    else protocolError(connection, 1003, 'binary frames are not accepted')
    connection.checkBacklog()
    return
  }
  const message = parseEvent(data.toString())
  if (message === null) {
    protocolError(connection, 1007, 'expected a JSON object with a string "event"')
    return
  }
  connection.queue.push(runEvent, connection, message)
  connection.checkBacklog()
}

/** The message, or null when it is not a JSON object with a string `event`. */
export function parseEvent (text: string): EventMessage | null {
  let message: unknown
  try {
    message = JSON.parse(text)
  } catch {
    return null
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return null
  return typeof (message as EventMessage).event === 'string' ? message as EventMessage : null
}

// Queued behind what came before, so that earlier events still get their answers first.
function protocolError (connection: Connection, code: number, reason: string): void {
  connection.refusing = true
  connection.controller.log.info({ code, reason }, 'fastify-plezi: closing websocket on a malformed frame')
  connection.queue.push(() => connection.close(code, reason))
}

/** The message's `_EID_` when it is one the protocol accepts (a number or a string). */
export function eventIdOf (message: { _EID_?: unknown }): EventId | undefined {
  const id = message._EID_
  return typeof id === 'number' || typeof id === 'string' ? id : undefined
}

/** The handler for `name` and how to call it, or null when nothing may answer it. */
export function findHandler (table: MethodTable, name: string): Action | null {
  return table.events.get(name) ?? table.unknown ?? null
}

// The ack is due before anything the handler causes; held (see Connection.holdAck) so that
// it shares one write with the reply when the handler answers synchronously.
function runEvent (this: Connection, message: EventMessage): unknown {
  const id = eventIdOf(message)
  if (id === undefined) return dispatchEvent(this, message, id)
  this.holdAck(`{"event":"_ack_","_EID_":${JSON.stringify(id)}}`)
  try {
    return dispatchEvent(this, message, id)
  } finally {
    this.releaseAck()
  }
}

function dispatchEvent (connection: Connection, message: EventMessage, id: EventId | undefined): unknown {
  const handler = findHandler(connection.table, message.event)
  if (handler === null) {
    connection.write(errorReply(404, message.event, id))
    return undefined
  }
  let result: unknown
  try {
    result = handler.call(connection.controller, message)
  } catch (err) {
    return failed(connection, message.event, id, err)
  }
  if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
    return (result as Promise<unknown>).then(
      (value) => { sendReply(connection, value, message.event, id) },
      (err) => { failed(connection, message.event, id, err) }
    )
  }
  sendReply(connection, result, message.event, id)
  return undefined
}

function failed (connection: Connection, event: string, id: EventId | undefined, err: unknown): void {
  connection.controller.log.error({ err, event }, 'fastify-plezi: event handler failed')
  reportError(err, 'event')
  connection.write(errorReply(500, event, id))
}

/** The `_err_` message of the protocol, as JSON text. */
export function errorReply (status: 404 | 500, event: string, id: EventId | undefined): string {
  const reply: Record<string, unknown> = { event: '_err_', status }
  if (status === 404) reply.error = 'unknown event'
  reply.request = event
  if (id !== undefined) reply._EID_ = id
  return JSON.stringify(reply)
}

// A reply that cannot be serialised (a BigInt, a cycle) is the handler's failure: 500 `_err_`.
function sendReply (connection: Connection, value: unknown, event: string, id: EventId | undefined): void {
  let frame: ReturnType<typeof encodeReply>
  try {
    frame = encodeReply(value, id)
  } catch (err) {
    failed(connection, event, id, err)
    return
  }
  if (frame !== undefined) connection.write(frame)
}

/**
 * What a handler's return value becomes on the wire: nothing, text, binary, or JSON text
 * that carries the request's `_EID_` when it had one and the reply object has none
 * (spliced into the serialised text, so the handler's object is never mutated).
 */
export function encodeReply (value: unknown, id: EventId | undefined): string | Buffer | Uint8Array | undefined {
  if (value === undefined || value === null || value === false) return undefined
  if (typeof value === 'string' || value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return Buffer.from(value)
  const json = JSON.stringify(value)
  if (json === undefined) return undefined
  if (id === undefined || Array.isArray(value) || typeof value !== 'object' || Object.hasOwn(value, '_EID_') || json[0] !== '{') {
    return json
  }
  const eid = `"_EID_":${JSON.stringify(id)}`
  return json === '{}' ? `{${eid}}` : `${json.slice(0, -1)},${eid}}`
}
