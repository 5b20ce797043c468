// The per-app state shared by routes, connections and controllers of one registration.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { ResolvedOptions } from './options.js'
import type { Connection } from './websocket/connection.js'
import type { PubSub } from './pubsub/pubsub.js'
import type { OutboxScheduler } from './websocket/outbox.js'
import type { AppPresence } from './presence/app.js'

export interface AppContext {
  readonly app: FastifyInstance
  readonly options: ResolvedOptions
  readonly log: FastifyBaseLogger
  /** Open connections, for pings and shutdown. */
  readonly connections: Set<Connection>
  /** Set first thing on `app.close()`: new upgrades get 503. */
  closing: boolean
  readonly pubsub: PubSub
  /** Presence store and live presence subscribers (SPEC section 12). */
  readonly presence: AppPresence
  /** Coalesces published frames per socket within a turn of the event loop. */
  readonly outboxes: OutboxScheduler
  /** Running totals of connection events, for `app.plezi.stats()`. */
  readonly counters: { slowConsumersClosed: number, backlogPaused: number }
  /** Things already logged once for this app (see noticeOnce). */
  readonly notices: Set<string>
  /** The controller classes this app routes, so `MyController.publish()` can find it. */
  readonly controllers: Set<Function>
}

// The apps from `ready` to `close`, for `MyController.publish()`. Nothing else about an app is
// kept at module level, and an app leaves this set when it closes: a closed app can be
// garbage-collected (test suites create hundreds).
const liveApps = new Set<AppContext>()

const byInstance = new WeakMap<FastifyInstance, AppContext>()

/** Remembers the context of the app fastify-plezi was registered on (weakly). */
export function registerApp (context: AppContext): void {
  byInstance.set(context.app, context)
}

/** The context of the app fastify-plezi was registered on (for tests and tooling). */
export function contextOf (app: FastifyInstance): AppContext | undefined {
  return byInstance.get(app)
}

/** The app can be published through by `Controller.publish()` (from `ready` on). */
export function appReady (context: AppContext): void { liveApps.add(context) }

/** The app is closing: `Controller.publish()` no longer finds it. */
export function appClosed (context: AppContext): void { liveApps.delete(context) }

export function registerRoute (Klass: Function, context: AppContext): void {
  context.controllers.add(Klass)
}

/** The app a controller class publishes through, or a sentence saying why there is none. */
export function appFor (Klass: Function): AppContext | string {
  for (let k: Function | null = Klass; k && k !== Function.prototype; k = Object.getPrototypeOf(k)) {
    let found: AppContext | undefined
    let count = 0
    for (const app of liveApps) {
      if (app.controllers.has(k)) {
        found = app
        count++
      }
    }
    if (count === 1) return found!
    if (count > 1) return `${Klass.name} is routed by ${count} apps; publish through app.plezi.publish() of the one you mean`
  }
  if (liveApps.size === 1) return liveApps.values().next().value!
  return liveApps.size === 0
    ? 'no app with fastify-plezi is ready (or it was closed)'
    : `${liveApps.size} apps use fastify-plezi and ${Klass.name} is routed by none of them; publish through app.plezi.publish() of the one you mean`
}
