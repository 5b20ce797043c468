// fastify-plezi: Plezi's real-time model for Fastify.
import { fastifyPlezi } from './plugin.js'

export default fastifyPlezi
export { fastifyPlezi, fastifyPlezi as plezi }
export type { PleziApi, MessageHandler } from './plugin.js'
export { Controller } from './controller.js'
export type { Params, Writable } from './controller.js'
export type { SubscriptionHandler } from './websocket/connection.js'
export type { SubscribeOptions } from './pubsub/channel.js'
export type { EventMessage } from './websocket/dispatch.js'
export type { PleziOptions, MQEmitterLike, OriginCheck } from './options.js'
export type { Cookies, CookieOptions, CookieGetOptions } from './http/cookies.js'
export * from './errors.js'
