// A published message: encoded once at publish (JSON values become JSON text with a kind tag,
// so the kind survives any engine), decoded and framed lazily, at most once per process.
// Bytes are copied at publish: the frame is built a turn later, and a caller may reuse its
// buffer at once.
import { buildFrame, OPCODE_BINARY, OPCODE_TEXT } from '../websocket/frame.js'
import { deflatePayload } from '../websocket/deflate.js'
import { PLZ_ERR_MESSAGE } from '../errors.js'

/** What the publisher passed: a string, bytes, or a JSON value. */
export type MessageKind = 'string' | 'buffer' | 'json'

/** The engine-side form of a message: plain fields any MQEmitter backend can carry. */
export interface WirePacket {
  topic: string
  /** Id of the publishing PubSub, to drop the echo of our own publishes. */
  origin: string
  kind: MessageKind
  /** The string, the bytes, or the JSON text. */
  data: string | Buffer
}

export class PubSubMessage {
  /** The channel as published, without the appName scope. */
  readonly channel: string
  readonly kind: MessageKind
  /** The string, the bytes, or the JSON text. */
  readonly data: string | Buffer
  #value: unknown
  #decoded = false
  #frame: Buffer | undefined
  #deflated: Buffer | undefined
  #byteLength = -1

  constructor (channel: string, kind: MessageKind, data: string | Buffer) {
    this.channel = channel
    this.kind = kind
    this.data = data
  }

  /** Encodes (and captures) a publisher's value; throws PLZ_ERR_MESSAGE for what cannot travel. */
  static from (channel: string, message: unknown): PubSubMessage {
    if (typeof message === 'string') return new PubSubMessage(channel, 'string', message)
    const bytes = copyBytes(message)
    if (bytes !== undefined) return new PubSubMessage(channel, 'buffer', bytes)
    return new PubSubMessage(channel, 'json', toJson(message))
  }

  /** Rebuilds a message that came through an engine; undefined when it is not ours. */
  static fromWire (channel: string, packet: Partial<WirePacket>): PubSubMessage | undefined {
    const { kind, data } = packet
    if (kind === 'buffer' && data instanceof Uint8Array) {
      return new PubSubMessage(channel, kind, Buffer.isBuffer(data) ? data : Buffer.from(data))
    }
    if ((kind === 'string' || kind === 'json') && typeof data === 'string') {
      return new PubSubMessage(channel, kind, data)
    }
    return undefined
  }

  /** Whether the websocket frame is binary (Buffers) rather than text (strings and JSON). */
  get binary (): boolean {
    return this.kind === 'buffer'
  }

  /** The payload for handlers: the string, the Buffer, or the parsed JSON value (shared: treat as read-only). */
  get value (): unknown {
    if (!this.#decoded) {
      this.#value = this.kind === 'json' ? JSON.parse(this.data as string) : this.data
      this.#decoded = true
    }
    return this.#value
  }

  /** The unmasked websocket frame, built on first use and reused for every socket. */
  get frame (): Buffer {
    this.#frame ??= buildFrame(this.data, this.binary ? OPCODE_BINARY : OPCODE_TEXT)
    return this.#frame
  }

  /**
   * The frame for a socket that compresses messages of at least `threshold` bytes (false: it
   * does not): the plain frame, or the one compressed frame built on first use for them all.
   */
  frameFor (threshold: number | false): Buffer {
    if (threshold === false) return this.frame
    if (this.#byteLength < 0) this.#byteLength = typeof this.data === 'string' ? Buffer.byteLength(this.data) : this.data.length
    if (this.#byteLength < threshold) return this.frame
    this.#deflated ??= buildFrame(deflatePayload(this.data), this.binary ? OPCODE_BINARY : OPCODE_TEXT, true)
    return this.#deflated
  }

  toWire (topic: string, origin: string): WirePacket {
    return { topic, origin, kind: this.kind, data: this.data }
  }
}

/** A copy of the bytes of a Buffer, any typed array or DataView, or an ArrayBuffer; else undefined. */
function copyBytes (message: unknown): Buffer | undefined {
  if (ArrayBuffer.isView(message)) return Buffer.from(new Uint8Array(message.buffer, message.byteOffset, message.byteLength))
  if (message instanceof ArrayBuffer || message instanceof SharedArrayBuffer) return Buffer.from(new Uint8Array(message))
  return undefined
}

const EXPECTED = 'publish: message must be a string, bytes (Buffer, typed array, ArrayBuffer) or a JSON-serialisable value'

function toJson (message: unknown): string {
  // A Blob's bytes can only be read asynchronously, and JSON would make it `{}`.
  if (typeof Blob !== 'undefined' && message instanceof Blob) throw new PLZ_ERR_MESSAGE(`${EXPECTED}, received a Blob (await blob.arrayBuffer() first)`)
  let text: string | undefined
  try {
    text = JSON.stringify(message)
  } catch (err) {
    throw new PLZ_ERR_MESSAGE(`${EXPECTED}: ${(err as Error).message}`, { cause: err })
  }
  if (text === undefined) throw new PLZ_ERR_MESSAGE(`${EXPECTED}, received ${typeof message}`)
  return text
}
