// Presence input checks (SPEC 12), run at the `track` call so a bad key or meta throws there,
// synchronously, as a TypeError PLZ_ERR_PRESENCE.
import { PLZ_ERR_PRESENCE } from '../errors.js'
import type { PresenceMeta } from './store.js'

export const MAX_PRESENCE_KEY_LENGTH = 256
/** Bytes of the meta as JSON (UTF-8). */
export const MAX_PRESENCE_META_BYTES = 4096

/** A meta taken at the call: a deep-frozen copy, and its JSON. */
export interface CapturedMeta {
  readonly meta: PresenceMeta
  readonly json: string
}

const LONE_SURROGATE = /\p{Cs}/u

const EMPTY: CapturedMeta = { meta: Object.freeze({}), json: '{}' }

export function checkPresenceKey (key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_PRESENCE_KEY_LENGTH) {
    throw new PLZ_ERR_PRESENCE(`presence key must be a non-empty string of at most ${MAX_PRESENCE_KEY_LENGTH} characters, received ${describe(key)}`)
  }
  if (key === '__proto__') throw new PLZ_ERR_PRESENCE('presence key "__proto__" is not allowed')
  // A lone surrogate has no UTF-8 form: it would come back from Redis as another key.
  if (LONE_SURROGATE.test(key)) throw new PLZ_ERR_PRESENCE('presence key must be well-formed Unicode (it contains a lone surrogate)')
}

/** Checks that `meta` is a plain JSON object of at most 4 KB and captures it. */
export function capturePresenceMeta (meta: unknown = {}): CapturedMeta {
  if (!isPlainObject(meta)) throw new PLZ_ERR_PRESENCE(`presence meta must be a plain JSON object, received ${describe(meta)}`)
  checkJsonValues(meta)
  const json = JSON.stringify(meta)
  if (json === '{}') return EMPTY
  const bytes = Buffer.byteLength(json)
  if (bytes > MAX_PRESENCE_META_BYTES) {
    throw new PLZ_ERR_PRESENCE(`presence meta is ${bytes} bytes as JSON, over the ${MAX_PRESENCE_META_BYTES} allowed`)
  }
  return { meta: deepFreeze(JSON.parse(json) as PresenceMeta), json }
}

// Every value must survive JSON as itself: no functions, undefined, symbols, BigInts,
// non-finite numbers, class instances (Date, Map, Buffer…). The walk is bounded by a node
// budget that a 4 KB JSON text cannot exceed, so a huge (or cyclic) object costs no more.
function checkJsonValues (root: object): void {
  const stack: unknown[] = [root]
  let budget = MAX_PRESENCE_META_BYTES
  while (stack.length > 0) {
    const value = stack.pop()
    if (--budget < 0) throw new PLZ_ERR_PRESENCE(`presence meta is over ${MAX_PRESENCE_META_BYTES} bytes as JSON, or contains a cycle`)
    if (value === null || typeof value === 'string' || typeof value === 'boolean') continue
    if (typeof value === 'number') {
      if (Number.isFinite(value)) continue
      throw new PLZ_ERR_PRESENCE(`presence meta must be plain JSON, it contains ${String(value)}`)
    }
    const isArray = Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype
    if (!isArray && !isPlainObject(value)) throw new PLZ_ERR_PRESENCE(`presence meta must be plain JSON, it contains ${describe(value)}`)
    for (const k of Object.keys(value)) stack.push((value as Record<string, unknown>)[k])
  }
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const k of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[k])
    Object.freeze(value)
  }
  return value
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : `a string of ${value.length} characters`
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name
    if (typeof name !== 'string' || name === '') return 'an object'
    return `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`
  }
  if (typeof value === 'bigint') return 'a bigint'
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`
}
