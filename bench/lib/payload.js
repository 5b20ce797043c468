// Broadcast bodies. A broadcast is {"type":"broadcast","payload":{"id":N,<fields>}}; `fields`
// is JSON member text: 200 bytes of padding for the fan-out scenarios, and for `compression` a
// realistic 4 KB JSON message (the recent history of a chat room: users, words, timestamps),
// made from a fixed seed so that every run and every server sends the same bytes. Written as
// JSON.stringify writes it, so servers that parse and re-serialise it send the same text back.

// mulberry32: small deterministic PRNG
function random (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const USERS = ['ada', 'grace', 'linus', 'margaret', 'ken', 'barbara', 'dennis', 'frances', 'edsger', 'radia', 'tim', 'hedy']
const WORDS = ('the a to and of is in it that for on with this we you be are as at have not but can will just ' +
  'deploy build release server client message channel room latency queue redis socket browser test fix bug ' +
  'merge branch review today tomorrow meeting lunch coffee please thanks sounds good maybe later see docs ' +
  'benchmark numbers faster slower memory cpu compression frame publish subscribe connection error retry').split(' ')

/** `"pad":"xxx…"`: the fan-out scenarios' 200-byte padding. */
export function padFields (bytes) {
  return `"pad":"${'x'.repeat(bytes)}"`
}

/** The members of a chat-history message whose whole broadcast frame payload is about `bytes` long. */
export function chatFields (bytes, seed = 7) {
  const next = random(seed)
  const pick = (list) => list[Math.floor(next() * list.length)]
  const messages = []
  const base = 1767225600000 // 2026-01-01, fixed
  let ts = base
  const text = () => {
    const n = 4 + Math.floor(next() * 14)
    const words = Array.from({ length: n }, () => pick(WORDS))
    words[0] = words[0][0].toUpperCase() + words[0].slice(1)
    return words.join(' ') + pick(['.', '.', '!', '?'])
  }
  const body = () => JSON.stringify({ room: 'general', kind: 'history', messages }).slice(1, -1)
  // `{"type":"broadcast","payload":{"id":NNN,` + fields + `}}` is about 44 bytes around them
  while (body().length < bytes - 44) {
    ts += 1000 + Math.floor(next() * 90_000)
    const message = { id: messages.length + 1, user: pick(USERS), at: new Date(ts).toISOString(), text: text() }
    if (next() < 0.25) message.reactions = { [pick(['👍', '🎉', '👀'])]: 1 + Math.floor(next() * 5) }
    messages.push(message)
  }
  messages.pop()
  return body()
}

/** The exact text of broadcast `id` (and of its broadcastResult) for these fields. */
export function broadcastText (id, fields, result = false) {
  return `{"type":"${result ? 'broadcastResult' : 'broadcast'}","payload":{"id":${id},${fields}}}`
}
