// README, "Options": `redis` takes ioredis's own RedisOptions.
import Fastify from 'fastify'
import plezi from 'fastify-plezi'
import type { RedisOptions } from 'ioredis'

const redis: RedisOptions = { host: '127.0.0.1', port: 6379, db: 1 }
const app = Fastify()
await app.register(plezi, { redis })
