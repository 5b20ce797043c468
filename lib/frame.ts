// The one module that reaches into `ws` internals (checked against ws 8.23; test/frame.test.ts
// fails when they change). Fan-out builds a websocket frame once per message and writes the
// same bytes to every socket, instead of letting `ws` re-frame the payload per socket.
import * as wsModule from 'ws'
import type { WebSocket } from 'ws'

export const OPCODE_TEXT = 1
export const OPCODE_BINARY = 2

interface FrameOptions {
  fin: boolean
  opcode: number
  mask: boolean
  readOnly: boolean
  rsv1: boolean
}

// @types/ws does not declare the Sender class that ws exports.
interface SenderClass {
  frame(data: Buffer, options: FrameOptions): Buffer[]
}

// The parts of ws's per-socket Sender we rely on (see node_modules/ws/lib/sender.js).
export interface WsSenderInternals {
  _state: number
  _queue: unknown[]
  _firstFragment: boolean
  sendFrame(list: Buffer[], cb?: (err?: Error) => void): void
}

interface WsInternals {
  _sender: WsSenderInternals | null
  _isServer: boolean
  _extensions: Record<string, unknown>
}

/** ws's Sender, for tests that assert it is still there. */
export const Sender = (wsModule as unknown as { Sender: SenderClass }).Sender
/** Sender state in which it writes straight to the socket instead of queueing. */
export const SENDER_IDLE = 0

/**
 * One unmasked, final websocket frame (header and payload in ONE buffer: two writes per socket
 * cost more syscalls than the copy).
 */
export function buildFrame (payload: string | Uint8Array, opcode: number): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = 0x80 | opcode // FIN, no RSV bits (no compression)
  if (length < 126) {
    frame[1] = length
  } else if (length < 65536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  // a string is encoded straight into the frame: no intermediate Buffer, no concat
  if (typeof payload === 'string') frame.write(payload, header)
  else frame.set(payload, header)
  return frame
}

/**
 * Whether frames may be written to this socket as raw bytes at all: a server socket (no
 * masking) that negotiated no extension (no permessage-deflate). Fixed once it is open.
 */
export function acceptsRawFrames (socket: WebSocket): boolean {
  const internals = socket as unknown as WsInternals
  return internals._isServer && Object.keys(internals._extensions).length === 0
}

/** Whether ws's sender is idle right now, so raw bytes written now keep their order. */
export function senderIdle (socket: WebSocket): boolean {
  const sender = (socket as unknown as WsInternals)._sender
  return socket.readyState === socket.OPEN &&
    sender !== null && sender !== undefined &&
    sender._state === SENDER_IDLE &&
    sender._queue.length === 0 &&
    sender._firstFragment
}

/**
 * Whether a prebuilt frame may go straight to this socket: a server socket that is open, whose
 * sender is idle (not deflating, nothing queued, not inside a fragmented message) and that did
 * not negotiate permessage-deflate. Otherwise ws must frame the data itself to keep order.
 */
export function canWriteFrame (socket: WebSocket): boolean {
  return senderIdle(socket) && acceptsRawFrames(socket)
}

export interface FrameFallback {
  data: string | Buffer
  binary: boolean
}

/**
 * Writes the prebuilt frame when the socket allows it and returns true; otherwise sends
 * `fallback` through the public `ws` API (when the socket is open) and returns false.
 */
export function writeFrame (socket: WebSocket, frame: Buffer, fallback: FrameFallback): boolean {
  if (canWriteFrame(socket)) {
    (socket as unknown as WsInternals)._sender!.sendFrame([frame])
    return true
  }
  if (socket.readyState === socket.OPEN) socket.send(fallback.data, { binary: fallback.binary })
  return false
}
