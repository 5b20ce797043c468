// Scale-out needs a Redis at 127.0.0.1:6379: use the running one, or start a
// throw-away redis-server there (killed with the other children) if the
// binary exists. dropAppKeys: what the cases leave there.
import { createConnection } from 'node:net'
import { spawn } from 'node:child_process'
import { Redis } from 'ioredis'

const HOST = '127.0.0.1'
const PORT = 6379

function ping (timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port: PORT })
    const finish = (ok) => { clearTimeout(timer); socket.destroy(); resolve(ok) }
    const timer = setTimeout(() => finish(false), timeoutMs)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => finish(data.toString().startsWith('+PONG')))
    socket.once('error', () => finish(false))
  })
}

export async function ensureRedis () {
  const url = `redis://${HOST}:${PORT}`
  if (await ping()) return { url, started: null }
  let proc
  try {
    proc = spawn('redis-server', ['--bind', HOST, '--port', String(PORT), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    proc.on('error', () => {})
  } catch {
    return null
  }
  process.on('exit', () => proc.kill('SIGKILL'))
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    if (await ping()) return { url, started: proc }
  }
  proc.kill('SIGKILL')
  return null
}

// The keys a case's apps (appName `prefix`) leave in Redis: history positions live for a day,
// and with the Redis engine every app registers its process for presence (no TTL), entries or not.
export async function dropAppKeys (url, prefix) {
  const conn = new Redis(url)
  try {
    for (const pattern of [`plezi:history:{${prefix}/*`, `plezi:presence:${prefix}:*`]) {
      let cursor = '0'
      do {
        const [next, keys] = await conn.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        if (keys.length > 0) await conn.del(...keys)
        cursor = next
      } while (cursor !== '0')
    }
  } finally {
    conn.disconnect()
  }
}
