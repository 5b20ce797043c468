// fastify-plezi: Plezi's real-time model for Fastify.
// Our users get @fastify/websocket's types with ours (`{ websocket: true }` routes, `app.injectWS`):
/// <reference types="@fastify/websocket" preserve="true" />
import { fastifyPlezi } from './plugin.js'

export default fastifyPlezi
export { fastifyPlezi, fastifyPlezi as plezi }
export type { PleziApi, MessageHandler, HistoryBacklog, HistoryReadOptions } from './plugin.js'
export type { PleziStats } from './stats.js'
export { Controller } from './controller.js'
export type { Params, Writable } from './controller.js'
export type { ControllerHooks, EventsOf, EventNames, EventReply } from './event-map.js'
export type { SubscriptionHandler } from './websocket/connection.js'
export type { SubscribeOptions } from './pubsub/channel.js'
export type { MessagePosition } from './pubsub/message.js'
export type { Position } from './pubsub/history/store.js'
export type { HistorySubscription } from './websocket/history-subscriber.js'
export type { EventMessage } from './websocket/dispatch.js'
export type { PleziOptions, MQEmitterLike, OriginCheck, HistoryOptions, PresenceOptions, CompressionOptions } from './options.js'
export type { Cookies, CookieOptions, CookieGetOptions } from './http/cookies.js'
export * from './errors.js'
