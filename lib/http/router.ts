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
import { runAjaj } from './ajaj.js'
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

function isAjaj (table: MethodTable, verb: string, id: string | undefined, body: unknown): body is { event: string } {
  return table.autoDispatch && verb === 'POST' && id === undefined && body !== null && typeof body === 'object' &&
    typeof (body as { event?: unknown }).event === 'string'
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

  function build (request: FastifyRequest, reply: FastifyReply | null, headers: string[] | null, withBody: boolean): Controller {
    return createController(Klass, {
      params: buildParams(request, withBody),
      request,
      reply,
      cookies: new Cookies(instance, request, reply, headers),
      log: request.log,
      plezi: context
    })
  }

  async function httpHandler (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const controller = build(request, reply, null, true)
    const verb = verbOf(request)
    const id = controller.params.id === undefined ? undefined : String(controller.params.id)
    if (isAjaj(table, verb, id, request.body)) return runAjaj(controller, table, request.body, reply)
    const action = httpAction(table, verb, id)
    if (action === null) {
      reply.callNotFound()
      return reply
    }
    return respond(reply, action.call(controller))
  }

  // Runs before the upgrade: origin check, shutdown, then preConnect as the authentication gate.
  async function upgradeGate (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (!request.ws) return undefined
    const { closing, options } = context
    if (closing) return reply.code(503).send()
    const origin = request.headers.origin
    if (origin !== undefined && options.allowedOrigins && !options.allowedOrigins(origin)) {
      request.log.info({ origin }, 'fastify-plezi: websocket refused for its Origin')
      return reply.code(403).send()
    }
    if (!table.websocketCapable) {
      reply.callNotFound()
      return reply
    }
    const headers: string[] = [] // Set-Cookie lines from this.cookies, for the 101
    const controller = build(request, reply, headers, false)
    if (table.hooks.has('preConnect')) {
      let accepted: unknown
      try {
        accepted = await (controller as Controller & { preConnect (): unknown }).preConnect()
      } catch (err) {
        request.log.error({ err }, 'fastify-plezi: preConnect failed')
        return reply.code(500).send()
      }
      if (reply.sent) return reply
      if (accepted === false) return reply.code(reply.statusCode >= 400 ? reply.statusCode : 403).send()
      if (context.closing) return reply.code(503).send()
    }
    headers.push(...upgradeHeaders(reply, request.log))
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
    const connection = new Connection(context, socket, controller, table, request.raw.socket)
    attachConnection(controller, connection)
    connection.start()
  }

  const url = routeUrl(path)
  instance.route({ method: 'GET', url, handler: httpHandler, wsHandler, preHandler: upgradeGate })
  instance.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE'], url, handler: httpHandler })
  registerRoute(Klass, context)
}
