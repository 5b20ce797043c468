// Which methods of a controller class the outside world may reach (SPEC section 4).
// Built once per class and cached, so that no request or message looks at prototypes.
import { lookalikeOf } from './lookalike.js'

export type Action = (this: unknown, ...args: any[]) => unknown

export const REST_ACTIONS = ['index', 'show', 'new', 'create', 'update', 'delete'] as const
export type RestAction = typeof REST_ACTIONS[number]

export const LIFECYCLE_HOOKS = ['preConnect', 'onOpen', 'onMessage', 'onDrained', 'onShutdown', 'onClose'] as const

export interface MethodTable {
  /** REST actions the class defines. */
  rest: Map<RestAction, Action>
  /** Auto-dispatch events: every reachable method that is neither a REST action nor `unknown`. */
  events: Map<string, Action>
  /** Events that declare no parameters, also reachable as `GET /prefix/<name>`. */
  getters: Map<string, Action>
  /** The `unknown(message)` fallback, when defined. */
  unknown: Action | undefined
  /** Defines onMessage or sets `static autoDispatch = true`. */
  websocketCapable: boolean
  autoDispatch: boolean
  /** Which lifecycle hooks exist, so connections skip the ones that don't. */
  hooks: Set<string>
  /** Events named almost like a hook (`onMesage`): `route()` warns about them. */
  lookalikes: Array<{ method: string, hook: string }>
}

const REST = new Set<string>(REST_ACTIONS)
const HOOKS = new Set<string>(LIFECYCLE_HOOKS)
const RESERVED = [...LIFECYCLE_HOOKS, 'unknown']
const OBJECT_MEMBERS = new Set(Object.getOwnPropertyNames(Object.prototype))

const cache = new WeakMap<Function, MethodTable>()

/**
 * Walks the prototype chain of `Klass` down to (not including) `Base.prototype` and sorts
 * every own method into REST actions, events and hooks. Never reachable: hooks, members of
 * `Base` (its prototype and `instanceMembers`), `constructor`, `_names`, Object's members.
 */
export function methodTable (Klass: Function, Base: Function, instanceMembers: ReadonlySet<string>): MethodTable {
  const cached = cache.get(Klass)
  if (cached) return cached

  const baseMembers = new Set(Object.getOwnPropertyNames(Base.prototype))
  const table: MethodTable = {
    rest: new Map(),
    events: new Map(),
    getters: new Map(),
    unknown: undefined,
    websocketCapable: false,
    autoDispatch: (Klass as { autoDispatch?: unknown }).autoDispatch === true,
    hooks: new Set(),
    lookalikes: []
  }
  const seen = new Set<string>()
  for (let proto = Klass.prototype; proto && proto !== Base.prototype && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (seen.has(name)) continue // the subclass's own definition wins
      seen.add(name)
      const descriptor = Object.getOwnPropertyDescriptor(proto, name)
      if (typeof descriptor?.value !== 'function') continue // getters and fields are never actions
      const fn = descriptor.value as Action
      if (HOOKS.has(name)) { table.hooks.add(name); continue }
      if (name === 'constructor' || name.startsWith('_') || OBJECT_MEMBERS.has(name) ||
          baseMembers.has(name) || instanceMembers.has(name)) continue
      if (REST.has(name)) { table.rest.set(name as RestAction, fn); continue }
      if (name === 'unknown') { table.unknown = fn; continue }
      table.events.set(name, fn)
      if (fn.length === 0) table.getters.set(name, fn)
    }
  }
  table.websocketCapable = table.autoDispatch || table.hooks.has('onMessage')
  for (const method of table.events.keys()) {
    const hook = lookalikeOf(method, RESERVED)
    if (hook !== undefined) table.lookalikes.push({ method, hook })
  }
  cache.set(Klass, table)
  return table
}
