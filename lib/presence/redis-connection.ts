// Opening and closing the presence store's Redis connections, bounded like the pub/sub engine's.
import { Redis, type RedisOptions } from 'ioredis'

export function connect (redis: string | RedisOptions, extra: RedisOptions): Redis {
  return typeof redis === 'string' ? new Redis(redis, extra) : new Redis({ ...redis, ...extra })
}

export function whenReady (conn: Redis): Promise<void> {
  if (conn.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      conn.removeListener('end', onEnd)
      resolve()
    }
    const onEnd = (): void => {
      conn.removeListener('ready', onReady)
      reject(new Error('Redis connection closed before it was ready'))
    }
    conn.once('ready', onReady)
    conn.once('end', onEnd)
  })
}

/** QUIT (commands in flight finish), bounded by `timeout`; then no reconnecting, whatever happened. */
export async function closeConnections (conns: Redis[], timeout: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const ended = conns.map(async (conn) => {
    if (conn.status === 'end') return
    const end = new Promise((resolve) => conn.once('end', resolve))
    conn.quit().catch(noop)
    await end
  })
  await Promise.race([Promise.all(ended), new Promise((resolve) => { timer = setTimeout(resolve, timeout) })])
  clearTimeout(timer)
  for (const conn of conns) if (conn.status !== 'end') conn.disconnect()
}

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
