// How presence changes reach other processes: a small interface, so the wiring can use Redis
// pub/sub on a connection of the store's own (redisTransport) or map it onto the app's pub/sub
// engine. A change is sent after its write reached Redis, so a process that hears it and then
// lists the channel sees it; the sender hears its own changes back and drops them by origin.
import type { Redis } from 'ioredis'
import { emptyState } from './state.js'
import type { ListedMeta, PresenceChange, PresenceState } from './store.js'

export interface PresenceTransport {
  /** Sends an encoded change of `channel` to every process sharing the backend. */
  publish (channel: string, payload: string): Promise<unknown>
  /** Delivers the payloads published on `channel` until the returned function is called. */
  subscribe (channel: string, receive: (payload: string) => void): Promise<() => void>
}

/** One message: changes of one channel from `origin`, in order. */
export function encodeChanges (origin: string, changes: readonly PresenceChange[]): string {
  return JSON.stringify({ o: origin, c: changes.map((change) => ({ j: change.joins, l: change.leaves })) })
}

/** The changes in a message, with their origin; undefined for anything malformed. */
export function decodeChanges (channel: string, payload: string): { origin: string, changes: PresenceChange[] } | undefined {
  let wire: { o?: unknown, c?: unknown }
  try {
    wire = JSON.parse(payload) as typeof wire
  } catch {
    return undefined
  }
  if (typeof wire !== 'object' || wire === null || typeof wire.o !== 'string' || !Array.isArray(wire.c)) return undefined
  const changes: PresenceChange[] = []
  for (const item of wire.c as Array<{ j?: unknown, l?: unknown } | null>) {
    const joins = decodeState(item?.j)
    const leaves = decodeState(item?.l)
    if (joins === undefined || leaves === undefined) return undefined
    changes.push({ channel, joins, leaves })
  }
  return { origin: wire.o, changes }
}

// Rebuilt as null-prototype objects; metas without a string `conn` are dropped.
function decodeState (value: unknown): PresenceState | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const state = emptyState()
  for (const key of Object.keys(value)) {
    const metas = (value as Record<string, { metas?: unknown } | null>)[key]?.metas
    if (!Array.isArray(metas)) return undefined
    const valid = metas.filter((m): m is ListedMeta => typeof m === 'object' && m !== null && typeof (m as ListedMeta).conn === 'string')
    if (valid.length > 0) state[key] = { metas: valid }
  }
  return state
}

/**
 * Redis pub/sub: publishes with `publish` (the store sends it through its command pipeline),
 * listens on `sub`, a connection of its own, one Redis channel per presence channel.
 */
export function redisTransport (publish: (name: string, payload: string) => Promise<unknown>, sub: Redis, prefix: string): PresenceTransport {
  const topics = new Map<string, { receivers: Set<(payload: string) => void>, active: Promise<unknown> }>()
  // Redis hands channel names back as UTF-8: key the map by that same form.
  const nameOf = (channel: string): string => Buffer.from(`${prefix}ev:${channel}`).toString()
  sub.on('message', (name: string, payload: string) => {
    const topic = topics.get(name)
    if (topic !== undefined) for (const receive of [...topic.receivers]) receive(payload)
  })
  return {
    publish: (channel, payload) => publish(nameOf(channel), payload),
    async subscribe (channel, receive) {
      const name = nameOf(channel)
      let topic = topics.get(name)
      if (topic === undefined) topics.set(name, topic = { receivers: new Set(), active: sub.subscribe(name) })
      const current = topic
      current.receivers.add(receive)
      const stop = (): void => {
        if (!current.receivers.delete(receive) || current.receivers.size > 0 || topics.get(name) !== current) return
        topics.delete(name)
        sub.unsubscribe(name).catch(noop)
      }
      try {
        await current.active
      } catch (err) {
        stop()
        throw err
      }
      return stop
    }
  }
}

function noop (): void {}
