// `app.plezi.stats()`: counts kept as the plugin works, read in O(1), cheap to scrape every second.
import type { AppContext } from './context.js'

export interface PleziStats {
  /** Open websocket connections. */
  connections: number
  /** Subscriptions in this process: connections' and connectionless ones. */
  subscriptions: number
  /** Channels (and patterns) with at least one subscriber in this process. */
  channels: number
  /** Messages published from this process since it started. */
  published: number
  /** Deliveries to subscribers in this process (one message to N subscribers counts N). */
  delivered: number
  /** Connections closed with 1013 for not reading (`maxBufferedAmount`). */
  slowConsumersClosed: number
  /** Times a connection's reading was paused because its handlers fell behind (`maxBacklog`). */
  backlogPaused: number
  /** The pub/sub engine: in-process (`'local'`), or an external one that is up or down. */
  engine: 'local' | 'up' | 'down'
  /** History channels: those the in-process store holds, or on Redis those this process follows. */
  history: { channels: number }
  /** This process's presence entries and the channels they are on. */
  presence: { channels: number, entries: number }
}

export function statsOf (context: AppContext): PleziStats {
  const { pubsub, counters } = context
  return {
    connections: context.connections.size,
    subscriptions: pubsub.totals.subscribers,
    channels: pubsub.channels,
    published: pubsub.totals.published,
    delivered: pubsub.totals.delivered,
    slowConsumersClosed: counters.slowConsumersClosed,
    backlogPaused: counters.backlogPaused,
    engine: pubsub.engineState,
    history: { channels: pubsub.historyChannels },
    presence: { ...context.presence.store.local }
  }
}
