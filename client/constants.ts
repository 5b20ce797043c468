// Wire names and defaults shared by the client modules.

/** The server's acknowledgement of an event that carried an `_EID_`. */
export const ACK = '_ack_'
/** The server's error reply (unknown event, handler failure). */
export const ERR = '_err_'
/** A message of a history channel, with its position, and the position of a new subscription. */
export const PUB = '_pub_'
export const SUB = '_sub_'
/** Longest `_since_` (URL-encoded) sent on connecting; the server ignores one above 8 KB. */
export const SINCE_MAX = 8192

/** WebSocket readyState values (the same in browsers and in `ws`). */
export const CONNECTING = 0
export const OPEN = 1

/** Plezi's default wait before reconnecting (ms); the first back-off step. */
export const RECONNECT_INTERVAL = 200
/** Cap of the exponential back-off (ms). */
export const RECONNECT_MAX = 10_000
/** Back-off jitter: each delay is scaled by a random factor in [1 - JITTER, 1 + JITTER). */
export const JITTER = 0.25
/** Ack wait when `emit` gets a callback but no timeout (Plezi waits 10 ms; we wait 5 s). */
export const EMIT_TIMEOUT = 5_000
/** How many events may wait for a connection before `emit` starts refusing them. */
export const QUEUE_LIMIT = 100
