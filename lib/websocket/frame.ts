// The one module that reaches into `ws` internals (checked against ws 8.23; test/frame.test.ts
// fails when they change). We build frames ourselves — once per published message for all its
// subscribers, and in one buffer for small writes — and write them to the TCP socket while
// ws's sender is idle, so the bytes keep their place among what ws itself sends.
import type { WebSocket } from 'ws'

export const OPCODE_TEXT = 1
export const OPCODE_BINARY = 2

// The parts of ws's per-socket Sender we rely on (see node_modules/ws/lib/sender.js).
export interface WsSenderInternals {
  _state: number
  _queue: unknown[]
  _firstFragment: boolean
}

interface WsInternals {
  _sender: WsSenderInternals | null
  _isServer: boolean
  _extensions: Record<string, unknown>
}

/** Sender state in which it writes straight to the socket instead of queueing. */
export const SENDER_IDLE = 0

/**
 * One unmasked, final websocket frame (header and payload in ONE buffer: two writes per socket
 * cost more syscalls than the copy).
 */
export function buildFrame (payload: string | Uint8Array, opcode: number, compressed = false): Buffer {
  const length = byteLengthOf(payload)
  const frame = Buffer.allocUnsafe(frameSize(length))
  writeFrame(frame, 0, payload, length, opcode, compressed)
  return frame
}

/** Two uncompressed frames in one buffer, for one write (an event's `_ack_` and its reply). */
export function buildFrames (first: string | Uint8Array, firstOpcode: number, second: string | Uint8Array, secondOpcode: number): Buffer {
  const firstLength = byteLengthOf(first)
  const secondLength = byteLengthOf(second)
  const firstSize = frameSize(firstLength)
  const frames = Buffer.allocUnsafe(firstSize + frameSize(secondLength))
  writeFrame(frames, 0, first, firstLength, firstOpcode, false)
  writeFrame(frames, firstSize, second, secondLength, secondOpcode, false)
  return frames
}

export function byteLengthOf (payload: string | Uint8Array): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
}

function frameSize (length: number): number {
  return (length < 126 ? 2 : length < 65536 ? 4 : 10) + length
}

function writeFrame (target: Buffer, at: number, payload: string | Uint8Array, length: number, opcode: number, compressed: boolean): void {
  target[at] = (compressed ? 0xc0 : 0x80) | opcode // FIN, and RSV1 for a permessage-deflate payload
  let header = 2
  if (length < 126) {
    target[at + 1] = length
  } else if (length < 65536) {
    target[at + 1] = 126
    target.writeUInt16BE(length, at + 2)
    header = 4
  } else {
    target[at + 1] = 127
    target.writeUInt32BE(Math.floor(length / 0x100000000), at + 2)
    target.writeUInt32BE(length >>> 0, at + 6)
    header = 10
  }
  // a string is encoded straight into the frame: no intermediate Buffer, no concat
  if (typeof payload === 'string') target.write(payload, at + header)
  else target.set(payload, at + header)
}

/** The stream `ws` writes a socket's frames to, as far as we need it. */
export interface Transport {
  write (chunk: Buffer): boolean
  cork (): void
  uncork (): void
  readonly writableNeedDrain: boolean
  once (event: 'drain', listener: () => void): unknown
}

/**
 * Whether frames we build may be written to this socket's transport: `'raw'` for a server socket
 * (no masking) that negotiated no extension; `'extensions'` (permessage-deflate) or `'client'`
 * when ws must frame; `'internals'` when ws's private fields are not what this module knows (a
 * websocket from `app.injectWS()`, a future ws): then ws.send() serves, and the caller says so
 * once. Fixed once the socket is open. Never throws.
 */
export type FrameSupport = 'raw' | 'extensions' | 'client' | 'internals'

export function frameSupport (socket: WebSocket): FrameSupport {
  const internals = socket as unknown as Partial<WsInternals>
  const sender = internals._sender
  if (transportOf(socket) === null || sender === null || typeof sender !== 'object' ||
      typeof sender._state !== 'number' || !Array.isArray(sender._queue) || typeof sender._firstFragment !== 'boolean' ||
      typeof internals._isServer !== 'boolean' || internals._extensions === null || typeof internals._extensions !== 'object') {
    return 'internals'
  }
  if (!internals._isServer) return 'client'
  const names = Object.keys(internals._extensions)
  if (names.length === 0) return 'raw'
  return names.length === 1 && deflateMode(socket) === 'shared' ? 'raw' : 'extensions'
}

/**
 * How messages to this socket may be compressed: `'none'` (no permessage-deflate), `'shared'`
 * (no server context takeover and the full window: a message compressed once is valid for every
 * such socket), or `'own'` (the client asked for a smaller window: only ws's own compressor fits).
 */
export type DeflateMode = 'none' | 'shared' | 'own'

export function deflateMode (socket: WebSocket): DeflateMode {
  const extension = (socket as unknown as Partial<WsInternals>)._extensions?.['permessage-deflate'] as { params?: Record<string, unknown> } | undefined
  if (extension === undefined) return 'none'
  const params = extension.params
  if (params === null || typeof params !== 'object' || params.server_no_context_takeover !== true) return 'own'
  const bits = params.server_max_window_bits
  return bits === undefined || bits === 15 ? 'shared' : 'own'
}

/** The transport stream behind a ws socket, or null when it is not one we can write to. */
export function transportOf (socket: WebSocket): Transport | null {
  const stream = (socket as unknown as { _socket?: Partial<Transport> | null })._socket
  if (stream === null || typeof stream !== 'object' || typeof stream.write !== 'function' ||
      typeof stream.cork !== 'function' || typeof stream.uncork !== 'function' || typeof stream.once !== 'function') {
    return null
  }
  return stream as Transport
}

/** Whether ws's sender is idle right now, so raw bytes written now keep their order (see frameSupport). */
export function senderIdle (socket: WebSocket): boolean {
  const sender = (socket as unknown as WsInternals)._sender
  return socket.readyState === socket.OPEN &&
    sender !== null && sender !== undefined &&
    sender._state === SENDER_IDLE &&
    sender._queue.length === 0 &&
    sender._firstFragment
}
