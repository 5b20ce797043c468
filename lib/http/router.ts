// `app.plezi.route(path, Controller)`: one GET route (HTTP + websocket) and one route for the
// other verbs per controller, resolving REST actions from tables built once per class.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { Controller, CONTROLLER_INSTANCE_MEMBERS, attachConnection, createController } from '../controller.js'
import { Cookies } from './cookies.js'
import { registerRoute, type AppContext } from '../context.js'
import { Connection } from '../websocket/connection.js'
import { methodTable, type Action, type MethodTable } from '../method-table.js'
import { buildParams } from './params.js'
import { respond } from './respond.js'
import { isJsonBody, runAjaj } from './ajaj.js'
import { passGate } from './gate.js'
import { PLZ_ERR_ROUTE } from '../errors.js'
import { upgradeHeaders, kUpgrade, type PendingUpgrade } from '../websocket/upgrade-headers.js'

export type ControllerClass = new () => Controller<any>

const OVERRIDABLE = new Set(['PUT', 'PATCH', 'DELETE'])

/** Plezi adds an optional trailing `:id` when the path has none. */
export function routeUrl (path: string): string {
  if (/(^|\/):id(\?|\/|$)/.test(path)) return path
  return `${path.replace(/\/+$/, '')}/:id?`
}

function checkRoute (path: unknown, Klass: unknown): void {
  const shown = typeof path === 'string' ? JSON.stringify(path) : String(path)
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new PLZ_ERR_ROUTE(shown, 'the path must be a string starting with "/"')
  }
  if (typeof Klass !== 'function' || !(Klass.prototype instanceof Controller)) {
    throw new PLZ_ERR_ROUTE(shown, 'the second argument must be a class that extends Controller')
  }
}

/** The verb after Plezi's `_method` override of a POST (HTML forms can only GET and POST). */
function verbOf (request: FastifyRequest): string {
  if (request.method !== 'POST') return request.method
  const override = (request.query as Record<string, unknown> | undefined)?._method ??
    (request.body as Record<string, unknown> | null | undefined)?._method
  if (typeof override !== 'string') return 'POST'
  const verb = override.toUpperCase()
  return OVERRIDABLE.has(verb) ? verb : 'POST'
}

/** The REST action (or zero-parameter method) for an HTTP request, or null for 404. */
export function httpAction (table: MethodTable, verb: string, id: string | undefined): Action | null {
  switch (verb) {
    case 'GET':
    case 'HEAD':
      if (id === undefined) return table.rest.get('index') ?? null
      if (id === 'new' && table.rest.has('new')) return table.rest.get('new')!
      return table.getters.get(id) ?? table.rest.get('show') ?? null
    case 'POST':
      return table.rest.get(id === undefined ? 'create' : 'update') ?? null
    case 'PUT':
    case 'PATCH':
      return id === undefined ? null : table.rest.get('update') ?? null
    case 'DELETE':
      return id === undefined ? null : table.rest.get('delete') ?? null
    default:
      return null
  }
}

/**
 * The route's own `:id` path segment: the only thing besides the verb that picks the action.
 * An `id` in the query string or the body is data (Plezi's client puts the event name there).
 */
function routeId (request: FastifyRequest): string | undefined {
  const id = (request.params as Record<string, unknown> | undefined)?.id
  return typeof id === 'string' && id !== '' ? id : undefined
}

/** `POST /prefix` with a JSON `{event: string}` body, on an auto-dispatch controller. */
function isAjaj (table: MethodTable, verb: string, id: string | undefined, request: FastifyRequest): boolean {
  const body = request.body
  return table.autoDispatch && verb === 'POST' && id === undefined && isJsonBody(request) &&
    body !== null && typeof body === 'object' && typeof (body as { event?: unknown }).event === 'string'
}

// A near miss of a hook's name never runs as that hook, and may be reachable from the wire.
function warnLookalikes (instance: FastifyInstance, table: MethodTable, path: string, name: string): void {
  for (const { method, hook } of table.lookalikes) {
    const reach = table.autoDispatch ? '; clients can call it as a websocket event'
      : table.getters.has(method) ? `; clients can call it as GET ${instance.prefix}${path.replace(/\/+$/, '')}/${method}` : ''
    instance.log.warn({ controller: name, method, hook },
      `fastify-plezi: ${name}.${method}() is not the ${hook}() hook, so it never runs as one (check its spelling)${reach}`)
  }
}

export function routeController (instance: FastifyInstance, context: AppContext, path: string, Klass: ControllerClass): void {
  checkRoute(path, Klass)
  const table = methodTable(Klass, Controller, CONTROLLER_INSTANCE_MEMBERS)
  warnLookalikes(instance, table, path, Klass.name)

  function build (request: FastifyRequest, reply: FastifyReply, withBody: boolean): Controller {
    return createController(Klass, {
      params: buildParams(request, withBody),
      request,
      reply,
      cookies: new Cookies(instance, request, reply),
      log: request.log,
      plezi: context
    })
  }

  async function httpHandler (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const controller = build(request, reply, true)
    const verb = verbOf(request)
    const id = routeId(request)
    if (isAjaj(table, verb, id, request)) return runAjaj(context, table, controller, request, reply)
    const action = httpAction(table, verb, id)
    if (action === null) {
      reply.callNotFound()
      return reply
    }
    return respond(reply, action.call(controller))
  }

  // Runs before the upgrade: the gate (origin, closing, preConnect), then the reply's headers
  // and cookies are set aside for the 101 along with the controller that passed.
  async function upgradeGate (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (!request.ws) return undefined
    if (!table.websocketCapable) {
      reply.callNotFound()
      return reply
    }
    const controller = await passGate(context, table, request, reply, () => build(request, reply, false))
    if (controller === null) return reply
    const headers = upgradeHeaders(instance, reply)
    ;(request.raw as typeof request.raw & { [kUpgrade]?: PendingUpgrade })[kUpgrade] = { controller, headers }
    return undefined
  }

  function wsHandler (socket: WebSocket, request: FastifyRequest): void {
    const raw = request.raw as typeof request.raw & { [kUpgrade]?: PendingUpgrade }
    const controller = raw[kUpgrade]?.controller
    raw[kUpgrade] = undefined
    if (!controller || context.closing) {
      socket.close(1001, 'server shutting down')
      return
    }
    const connection = new Connection(context, socket, controller, table)
    attachConnection(controller, connection)
    connection.start()
  }

  const url = routeUrl(path)
  instance.route({ method: 'GET', url, handler: httpHandler, wsHandler, preHandler: upgradeGate })
  instance.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE'], url, handler: httpHandler })
  registerRoute(Klass, context)
}
