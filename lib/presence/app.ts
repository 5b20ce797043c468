// Presence of one app: its store (Redis with the Redis engine, in-process otherwise, and with an
// app-supplied emitter too: that engine has no store we could share) and the feed of its live
// presence subscribers. Frames go out as published messages do (the outbox), so they keep
// their order with the connection's other frames and each is framed once for all subscribers.
import type { RedisOptions } from 'ioredis'
import { PLZ_ERR_ENGINE } from '../errors.js'
import { PubSubMessage } from '../pubsub/message.js'
import { createPresenceStore } from './index.js'
import { PresenceFeed } from './diff.js'
import type { PresenceLog, PresenceStore } from './store.js'

/** What the feed writes to: a connection's end-of-turn outbox. */
export interface PresenceSubscriber {
  writeMessage (message: PubSubMessage): void
}

export interface AppPresenceOptions {
  appName: string
  redis: string | Record<string, unknown> | undefined
  ttl: number
  interval: number
  log: PresenceLog
}

export class AppPresence {
  readonly store: PresenceStore
  readonly feed: PresenceFeed<PresenceSubscriber>

  constructor (opts: AppPresenceOptions) {
    this.store = createPresenceStore({ appName: opts.appName, log: opts.log, redis: opts.redis as string | RedisOptions | undefined, ttl: opts.ttl })
    this.feed = new PresenceFeed<PresenceSubscriber>({
      store: this.store,
      interval: opts.interval,
      log: opts.log,
      write (subscribers, frame) {
        // The channel of a message is only read by subscription handlers, never here.
        const message = new PubSubMessage('', 'string', frame)
        for (const subscriber of subscribers) subscriber.writeMessage(message)
      }
    })
  }

  /** Waits for the store within `timeout` ms; otherwise closes it and throws PLZ_ERR_ENGINE. */
  async ready (timeout: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<'timeout'>((resolve) => { timer = setTimeout(resolve, timeout, 'timeout') })
    let failure: unknown
    try {
      if (await Promise.race([this.store.ready(), expired]) !== 'timeout') return
    } catch (err) {
      failure = err
    } finally {
      clearTimeout(timer)
    }
    await this.close()
    const why = failure instanceof Error ? `: ${failure.message}` : ''
    throw new PLZ_ERR_ENGINE(`presence store could not reach Redis within ${timeout} ms${why}`, { cause: failure })
  }

  /** After the connections closed: no more diffs, then this process's entries go (with leaves). */
  async close (): Promise<void> {
    this.feed.close()
    await this.store.close()
  }
}
