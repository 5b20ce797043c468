// Raw websocket client (the `ws` package, permessage-deflate off) speaking the
// websocket-shootout protocol. Incoming broadcasts are recognised without
// JSON.parse, so one process can keep up with thousands of sockets.
import WebSocket from 'ws'
import { broadcastText } from '../lib/payload.js'

const BROADCAST = Buffer.from('broadcast')
const ID_KEY = Buffer.from('"id":')
const R = 0x52 // 'R' of broadcastResult
const ACK = Buffer.from('{"event":"_ack_"')
const P = 0x70 // 'p' of _presence_
const R_LOWER = 0x72 // its 'r' (not _pub_)
const D = 0x64 // 'd' of _presence_diff_, where _presence_ has its closing quote
const PRESENCE_KIND_AT = '{"event":"_presence_'.length

/** The echo message of each mode: shootout `type`, auto-dispatch `event`, or an event with an `_EID_` (ack + reply). */
export function echoText (mode, pad) {
  if (mode === 'event') return `{"event":"echo","payload":{"pad":"${pad}"}}`
  if (mode === 'request') return `{"event":"echo","_EID_":1,"payload":{"pad":"${pad}"}}`
  return `{"type":"echo","payload":{"pad":"${pad}"}}`
}

function readId (buf, at) {
  let id = 0
  for (let i = at; i < buf.length; i++) {
    const c = buf[i] - 48
    if (c < 0 || c > 9) break
    id = id * 10 + c
  }
  return id
}

// Recognise a shootout message from its bytes; shared with raw-client.js, which also says
// how many bytes its frame took on the wire and whether it came compressed. Presence frames
// (`{"event":"_presence_"…` and `{"event":"_presence_diff_"…`) are told apart by two bytes.
// sink: { broadcast(id, frameBytes, compressed), result(id), echo(client), presence(diff), closed(client) }
export function classify (data, sink, client, frameBytes = 0, compressed = false) {
  const i = data.indexOf(BROADCAST)
  if (i < 0) {
    if (data[10] === 0x5f) { // {"event":"_…
      if (data[11] === P && data[12] === R_LOWER) return sink.presence(data[PRESENCE_KIND_AT] === D)
      if (data.indexOf(ACK) === 0) return // an _ack_: the reply follows
    }
    return sink.echo(client)
  }
  const id = readId(data, data.indexOf(ID_KEY, i) + ID_KEY.length)
  if (data[i + BROADCAST.length] === R) sink.result(id)
  else sink.broadcast(id, frameBytes, compressed)
}

export function connectWs (url, sink, timeoutMs) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: timeoutMs })
    const client = {
      send (text) { ws.send(text) },
      broadcast (id, fields) { ws.send(broadcastText(id, fields)) },
      echo (text) { ws.send(text) },
      echoMessage: echoText,
      close () { ws.terminate() }
    }
    ws.on('message', (data) => classify(data, sink, client))
    ws.once('open', () => resolve(client))
    ws.once('error', reject)
    ws.once('close', () => sink.closed(client))
  })
}
