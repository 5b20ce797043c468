// The per-app state shared by routes, connections and controllers of one registration.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { ResolvedOptions } from './options.js'
import type { Connection } from './websocket/connection.js'
import type { PubSub } from './pubsub/pubsub.js'
import type { OutboxScheduler } from './websocket/outbox.js'

export interface AppContext {
  readonly app: FastifyInstance
  readonly options: ResolvedOptions
  readonly log: FastifyBaseLogger
  /** Open connections, for pings and shutdown. */
  readonly connections: Set<Connection>
  /** Set first thing on `app.close()`: new upgrades get 503. */
  closing: boolean
  readonly pubsub: PubSub
  /** Coalesces published frames per socket within a turn of the event loop. */
  readonly outboxes: OutboxScheduler
  /** Things already logged once for this app (see noticeOnce). */
  readonly notices: Set<string>
}

// Which apps route a controller class, so `MyController.publish()` knows where to go.
const routedBy = new WeakMap<Function, Set<AppContext>>()
const liveApps = new Set<AppContext>()

const byInstance = new WeakMap<FastifyInstance, AppContext>()

export function registerApp (context: AppContext): void {
  liveApps.add(context)
  byInstance.set(context.app, context)
}

/** The context of the app fastify-plezi was registered on (for tests and tooling). */
export function contextOf (app: FastifyInstance): AppContext | undefined {
  return byInstance.get(app)
}
export function unregisterApp (context: AppContext): void { liveApps.delete(context) }

export function registerRoute (Klass: Function, context: AppContext): void {
  let apps = routedBy.get(Klass)
  if (!apps) routedBy.set(Klass, apps = new Set())
  apps.add(context)
}

/** The app a controller class publishes through, or a sentence saying why there is none. */
export function appFor (Klass: Function): AppContext | string {
  for (let k: Function | null = Klass; k && k !== Function.prototype; k = Object.getPrototypeOf(k)) {
    const apps = routedBy.get(k)
    if (!apps) continue
    const live = [...apps].filter((a) => liveApps.has(a))
    if (live.length === 1) return live[0]
    if (live.length > 1) return `${Klass.name} is routed by ${live.length} apps; publish through app.plezi.publish() of the one you mean`
  }
  if (liveApps.size === 1) return [...liveApps][0]
  return liveApps.size === 0
    ? 'no app with fastify-plezi is registered (or it was closed)'
    : `${liveApps.size} apps use fastify-plezi and ${Klass.name} is routed by none of them; publish through app.plezi.publish() of the one you mean`
}
