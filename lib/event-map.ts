// Types only (no run-time code): the lifecycle hooks' signatures, and the client's event map
// derived from a controller class, so that the handlers are the one place events are written.
import type { Controller } from './controller.js'
import type { RestAction } from './method-table.js'

/**
 * The lifecycle hooks, for `class Chat extends Controller implements ControllerHooks`: each
 * hook is optional, its signature is checked, and none needs `override` (the base class does
 * not declare them). Function-typed properties, so parameters are checked strictly: an
 * `onMessage (data: string)` that would never expect a binary frame does not compile.
 */
export interface ControllerHooks {
  /** Before the upgrade: `false` refuses it (403, or the status set on `this.reply`). */
  preConnect?: () => boolean | void | Promise<boolean | void>
  /** After the upgrade. What it returns is ignored (a promise is awaited). */
  onOpen?: () => void
  /** A websocket message: text frames as `string`, binary frames as `Buffer`. */
  onMessage?: (data: string | Buffer) => void
  /** The send buffer emptied after back-pressure. */
  onDrained?: () => void
  /** The server is closing gracefully; the connection can still write. */
  onShutdown?: () => void
  /** Once, after the connection closed. */
  onClose?: () => void
}

/** Names that are never events (SPEC section 4); `_names` are left out separately. */
type NotEvents = keyof Controller | keyof ControllerHooks | RestAction | 'unknown' | keyof Object

/** The names of `T`'s methods that a client can reach as auto-dispatch events. */
export type EventNames<T> = {
  [K in keyof T]: K extends string
    ? K extends NotEvents | `_${string}` ? never : T[K] extends (...args: never[]) => unknown ? K : never
    : never
}[keyof T]

/** What a handler with parameters `A` needs in the event object (nothing for `ping ()`). */
type EventPayload<A extends readonly unknown[]> = A extends readonly [] ? {} : Exclude<A[0], undefined>

/**
 * What `request` resolves to: the handler's (awaited) return value, when it is a JSON object.
 * Only an object reply carries the request's `_EID_` back; a handler that returns nothing, text
 * or an array answers no request (use `emit`), hence `never` there.
 */
export type EventReply<R> = Exclude<Extract<Awaited<R>, object>, readonly unknown[] | ArrayBuffer | ArrayBufferView>

/**
 * The event map of a controller class for PleziClient's second type parameter:
 * `new PleziClient<ServerEvents, EventsOf<Chat>>(url)` checks `emit` and `request` payloads
 * against the handlers' parameters and types replies from their return types. Type-only:
 * `import type { EventsOf } from 'fastify-plezi'` keeps server code out of front-end bundles.
 * TypeScript `private`/`protected` methods are invisible here but reachable at run time: keep
 * helpers off the wire with a `_` name or `#private`.
 */
export type EventsOf<T> = {
  [K in EventNames<T>]: T[K] extends (...args: infer A) => infer R
    ? (msg: EventPayload<A>) => EventReply<R>
    : never
}
