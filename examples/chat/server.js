// npm start: the chat example on port 3000 (PORT to change it), in-process pub/sub unless
// REDIS_URL is set — then start several of these on different ports and they share the room.
import { buildApp } from './app.js'

const app = await buildApp()
const port = Number(process.env.PORT ?? 3000)
await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
