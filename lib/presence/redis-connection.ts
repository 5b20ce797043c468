// Opening and closing the presence store's Redis connections, bounded like the pub/sub engine's.
import { Redis, type RedisOptions } from 'ioredis'

export function connect (redis: string | RedisOptions, extra: RedisOptions): Redis {
  return typeof redis === 'string' ? new Redis(redis, extra) : new Redis({ ...redis, ...extra })
}

// The engine's, so a fix to how ioredis connections end (reconnecting ones never emit 'end')
// serves presence too.
export { closeConnections, whenReady } from '../pubsub/engine.js'

/** Resolves with `promise`, or with undefined after `ms` (the promise may still settle later). */
export async function within<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => { timer = setTimeout(() => { resolve(undefined) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

export function noop (): void {}
