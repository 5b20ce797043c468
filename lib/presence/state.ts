// Presence states and changes as null-prototype objects: a key named `constructor`,
// `toString` or `hasOwnProperty` is an ordinary key, and nothing reaches Object.prototype.
import type { ListedMeta, PresenceChange, PresenceMeta, PresenceState } from './store.js'

export function emptyState (): PresenceState {
  return Object.create(null) as PresenceState
}

/** The meta as listed: a copy with the connection (a `conn` of the meta's own is replaced). */
export function listedMeta (meta: PresenceMeta, conn: string): ListedMeta {
  return { ...meta, conn }
}

/** Adds `meta` under `key`, replacing the meta of the same connection. */
export function addMeta (state: PresenceState, key: string, meta: ListedMeta): void {
  const entry = state[key]
  if (entry === undefined) {
    state[key] = { metas: [meta] }
    return
  }
  const i = entry.metas.findIndex((m) => m.conn === meta.conn)
  if (i >= 0) entry.metas[i] = meta
  else entry.metas.push(meta)
}

/** Removes the meta of `conn` under `key`; the key goes with its last meta. */
export function removeMeta (state: PresenceState, key: string, conn: string): void {
  const entry = state[key]
  if (entry === undefined) return
  const metas = entry.metas.filter((m) => m.conn !== conn)
  if (metas.length === 0) delete state[key]
  else entry.metas = metas
}

/** Applies a change the way clients do: leaves first, then joins, both by connection. */
export function applyChange (state: PresenceState, change: Pick<PresenceChange, 'joins' | 'leaves'>): void {
  for (const key in change.leaves) for (const meta of change.leaves[key].metas) removeMeta(state, key, meta.conn)
  for (const key in change.joins) for (const meta of change.joins[key].metas) addMeta(state, key, meta)
}

export function isEmptyState (state: PresenceState): boolean {
  for (const _ in state) return false
  return true
}

/** A change of one meta: a join, a leave, or (both given) an update. */
export function changeOf (channel: string, key: string, joined: ListedMeta | undefined, left: ListedMeta | undefined, leftKey = key): PresenceChange {
  const joins = emptyState()
  const leaves = emptyState()
  if (joined !== undefined) joins[key] = { metas: [joined] }
  if (left !== undefined) leaves[leftKey] = { metas: [left] }
  return { channel, joins, leaves }
}
