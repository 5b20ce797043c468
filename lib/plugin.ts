// The Fastify plugin: options, @fastify/websocket and @fastify/cookie set up for us, the
// `app.plezi` decorator, pings, pub/sub engine and graceful shutdown.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import cookie from '@fastify/cookie'
import { resolveOptions, type PleziOptions, type ResolvedOptions } from './options.js'
import { appClosed, appReady, registerApp, type AppContext } from './context.js'
import { routeController, type ControllerClass } from './http/router.js'
import { addUpgradeHeaders } from './websocket/upgrade-headers.js'
import { shutdownConnections } from './websocket/shutdown.js'
import { PLZ_ERR_WEBSOCKET_REGISTERED } from './errors.js'
import { registerClientRoute } from './http/client-route.js'
import { PubSub, type Subscriber, type SubscribeOptions } from './pubsub/pubsub.js'
import { OutboxScheduler } from './websocket/outbox.js'
import { connectionOf, type Connection, type SubscriptionHandler } from './websocket/connection.js'
import { reportError } from './diagnostics.js'
import { statsOf, type PleziStats } from './stats.js'
import { AppPresence } from './presence/app.js'
import { checkChannel } from './pubsub/channel.js'
import type { PresenceCount, PresenceState } from './presence/store.js'

/** A connectionless subscription handler (see SubscriptionHandler). */
export type MessageHandler<T = unknown> = SubscriptionHandler<T>

/** `app.plezi`: bound to the Fastify instance it is read from, so routes respect encapsulation. */
export interface PleziApi {
  /** Routes a controller class (before `app.ready()` / `app.listen()`). */
  route (path: string, Controller: ControllerClass): void
  /**
   * Publishes to every subscriber of `channel`, in every process sharing the engine. A bad
   * channel or message throws at the call; the promise never rejects: true once delivered
   * locally and handed to the engine, false when the engine could not take it (logged).
   */
  publish (channel: string, message: unknown): Promise<boolean>
  /**
   * A connectionless subscription (`{ pattern: true }` for wildcards); a bad channel throws
   * at the call. Resolves to a function that ends it.
   */
  subscribe<T = unknown> (channel: string, handler: MessageHandler<T>, options?: SubscribeOptions): Promise<() => void>
  /** Counts of this app's connections, subscriptions and messages, read in constant time. */
  stats (): PleziStats
  /**
   * The messages a history channel still holds: with `since` (exclusive) the first `limit`
   * after it, without it the last `limit` (default and at most `history.size`). A channel that
   * keeps no history or bad options throw at the call; rejects when the store cannot be read.
   */
  history<T = unknown> (channel: string, options?: HistoryReadOptions): Promise<HistoryBacklog<T>>
  /**
   * Who is tracked on `channel` in every process sharing the engine: `{ [key]: { metas } }`,
   * each meta with the `conn` it belongs to. A bad channel throws at the call; rejects when
   * the store cannot be read.
   */
  presence (channel: string): Promise<PresenceState>
  /** Keys and connections tracked on `channel`, without loading its state (large rooms). */
  presenceCount (channel: string): Promise<PresenceCount>
}

export interface HistoryReadOptions {
  /** Exclusive: the messages after this offset (as in `_since_`). */
  since?: number
  /** At most this many messages. */
  limit?: number
}

/** A page of a history channel: its latest position and messages, oldest first. */
export interface HistoryBacklog<T = unknown> {
  epoch: string
  offset: number
  messages: Array<{ offset: number, message: T }>
}

declare module 'fastify' {
  interface FastifyInstance {
    plezi: PleziApi
  }
}

/** `app.plezi.history()`: a page of the store, with the messages decoded. */
function readBacklog<T> (pubsub: PubSub, channel: string, options: HistoryReadOptions | undefined): Promise<HistoryBacklog<T>> {
  return pubsub.readHistory(channel, options).then(({ epoch, offset, messages }) => ({
    epoch,
    offset,
    messages: messages.map((entry) => ({ offset: entry.offset, message: (entry.kind === 'json' ? JSON.parse(entry.data) : entry.data) as T }))
  }))
}

/** `app.plezi.subscribe()`: a subscription without a websocket; errors are logged. */
function subscribeConnectionless (context: AppContext, channel: string, handler: MessageHandler<any>, options: SubscribeOptions | undefined): Promise<() => void> {
  if (typeof handler !== 'function') throw new TypeError('fastify-plezi: app.plezi.subscribe(channel, handler, options?): handler must be a function')
  const fail = (err: unknown): void => {
    context.log.error({ err, channel }, 'fastify-plezi: subscription handler failed')
    reportError(err, 'subscription')
  }
  const subscriber: Subscriber = {
    deliver (message) {
      try {
        const result = handler(message.value, message.channel, message.position)
        if (result instanceof Promise) result.catch(fail)
      } catch (err) {
        fail(err)
      }
    }
  }
  return context.pubsub.subscribe(channel, subscriber, options).then(() => () => { void context.pubsub.unsubscribe(channel, subscriber) })
}

// How long `register` waits for Redis: below the app's plugin timeout (Fastify's default is
// 10 s), so that our error, which says what failed, comes first.
const ENGINE_WAIT_MS = 5000

function engineWait (pluginTimeout: number | undefined): number {
  return pluginTimeout !== undefined && pluginTimeout > 0 ? Math.min(ENGINE_WAIT_MS, Math.floor(pluginTimeout / 2)) : ENGINE_WAIT_MS
}

/** A client's protocol mistake (ws's WS_ERR_* codes: too large, bad UTF-8, …) is not a server fault. */
function logSocketError (log: FastifyBaseLogger, error: Error): void {
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
    log.info({ code, reason: error.message }, 'fastify-plezi: closing websocket on a protocol error of the client')
  } else if (code === 'ECONNRESET' || code === 'EPIPE') {
    log.debug({ code }, 'fastify-plezi: websocket connection reset by the client')
  } else {
    log.error({ err: error }, 'fastify-plezi: websocket error')
    reportError(error, 'websocket')
  }
}

/**
 * With `compression`, permessage-deflate without server context takeover: every message the
 * server sends is compressed on its own, so one compressed frame serves every subscriber (see
 * frame.ts). No client context takeover either, so the server's inflater keeps no window.
 */
function perMessageDeflate (options: ResolvedOptions): false | Record<string, unknown> {
  if (options.compression === false) return false
  return { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: options.compression.threshold }
}

const FORM = 'application/x-www-form-urlencoded'

function parseForm (_request: unknown, body: string, done: (err: Error | null, body?: unknown) => void): void {
  const fields: Record<string, string> = {}
  for (const [key, value] of new URLSearchParams(body)) {
    if (key !== '__proto__') fields[key] = value
  }
  done(null, fields)
}

async function plezi (fastify: FastifyInstance, opts: PleziOptions): Promise<void> {
  const options = resolveOptions(opts, fastify.log)
  if (fastify.hasDecorator('websocketServer')) throw new PLZ_ERR_WEBSOCKET_REGISTERED()
  if (!fastify.hasDecorator('parseCookie')) await fastify.register(cookie)
  // Plezi reads HTML forms into params; add a parser unless the app has its own (e.g. @fastify/formbody).
  if (!fastify.hasContentTypeParser(FORM)) fastify.addContentTypeParser(FORM, { parseAs: 'string' }, parseForm)

  const pubsub = new PubSub({ appName: options.appName, emitter: options.emitter, redis: options.redis, history: options.history, log: fastify.log })
  const wait = engineWait(fastify.initialConfig.pluginTimeout)
  await pubsub.connect(wait)
  const presence = new AppPresence({ appName: options.appName, redis: options.redis, ttl: options.presence.ttl, interval: options.presence.interval, log: fastify.log })
  try {
    await presence.ready(wait)
  } catch (err) {
    await pubsub.close()
    throw err
  }
  fastify.log.info({ appName: options.appName, engine: pubsub.describeEngine(), compression: options.compression }, 'fastify-plezi: pub/sub through %s', pubsub.describeEngine())
  const context: AppContext = {
    app: fastify,
    options,
    log: fastify.log,
    connections: new Set<Connection>(),
    closing: false,
    pubsub,
    presence,
    outboxes: new OutboxScheduler(),
    notices: new Set(),
    counters: { slowConsumersClosed: 0, backlogPaused: 0 },
    controllers: new Set()
  }

  // While closing, Fastify answers upgrades with its own 503 but never ends those sockets
  // (@fastify/websocket only does in an onResponse hook, which that path skips), and
  // app.close() would wait for them forever: answer them here, first, and end them.
  function refuseUpgradeWhileClosing (_request: IncomingMessage, socket: Duplex): void {
    if (!context.closing) return
    socket.on('error', () => socket.destroy())
    socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy())
  }

  let pinger: NodeJS.Timeout | undefined
  // From here on the engine and presence are up: a failure below closes them before it reaches
  // register's caller, so nothing is left running.
  try {
    await fastify.register(websocket, {
      options: { maxPayload: options.maxPayload, perMessageDeflate: perMessageDeflate(options) },
      errorHandler (error, socket, request) {
        logSocketError(request.log, error)
        const connection = connectionOf(socket)
        if (connection !== undefined) connection.close(1011, 'internal error')
        else if (socket.readyState === socket.OPEN) socket.close(1011, 'internal error')
      },
      preClose (done) {
        shutdownConnections(context, fastify.websocketServer.clients ?? []).then(
          () => { fastify.websocketServer.close(() => done()) },
          /* c8 ignore next */ (err) => { context.log.error({ err }, 'fastify-plezi: shutdown failed'); done() }
        )
      }
    })
    fastify.websocketServer.on('headers', addUpgradeHeaders)

    fastify.server.prependListener('upgrade', refuseUpgradeWhileClosing)

    const apis = new WeakMap<FastifyInstance, PleziApi>()
    function apiFor (instance: FastifyInstance): PleziApi {
      let api = apis.get(instance)
      if (!api) {
        api = {
          route: (path, Klass) => routeController(instance, context, path, Klass),
          publish: (channel, message) => pubsub.publish(channel, message),
          stats: () => statsOf(context),
          subscribe: (channel, handler, subscribeOptions) => subscribeConnectionless(context, channel, handler, subscribeOptions),
          history: (channel, readOptions) => readBacklog(pubsub, channel, readOptions),
          presence: (channel) => { checkChannel(channel, 'presence'); return presence.store.list(channel) },
          presenceCount: (channel) => { checkChannel(channel, 'presenceCount'); return presence.store.count(channel) }
        }
        apis.set(instance, api)
      }
      return api
    }
    fastify.decorate('plezi', { getter (this: FastifyInstance) { return apiFor(this) } })

    if (options.clientPath !== false) registerClientRoute(fastify, options.clientPath)

    if (options.pingInterval > 0) {
      pinger = setInterval(() => { for (const connection of context.connections) connection.ping() }, options.pingInterval)
      pinger.unref()
    }
  } catch (err) {
    clearInterval(pinger)
    fastify.server.removeListener('upgrade', refuseUpgradeWhileClosing)
    await presence.close()
    await pubsub.close()
    throw err
  }
  registerApp(context)
  fastify.addHook('onReady', async () => { appReady(context) })
  fastify.addHook('onClose', async () => {
    clearInterval(pinger)
    fastify.server.removeListener('upgrade', refuseUpgradeWhileClosing)
    appClosed(context)
    // The connections are closed (preClose) and untracked: what is left goes with its leaves.
    await presence.close()
    await pubsub.close()
  })
}

export const fastifyPlezi = fp(plezi, {
  fastify: '5.x',
  name: 'fastify-plezi'
})
