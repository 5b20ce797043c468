// One connection's hooks, messages and subscription handlers run one at a time, in arrival
// order (like Iodine's per-connection lock). An idle queue runs a task at once; synchronous
// tasks run back to back with no promise in between; an async task holds the queue until it
// settles. Tasks are (function, this, argument) triples, so the hot path allocates no closure,
// and the backlog array exists only while there is a backlog.

export type Task = (this: any, arg?: any) => unknown

/** Who owns the queue: told of a task's failure and of each time the queue ran dry (an object, not closures: one queue per connection). */
export interface QueueOwner {
  taskFailed (err: unknown): void
  queueIdle? (): void
}

export class SerialQueue {
  // flat triples: fn, this, arg
  private backlog: unknown[] | null = null
  private head = 0
  private running = false
  private idleWaiters: Array<() => void> | null = null

  /** `owner.queueIdle` runs each time the last waiting task has finished (maxBacklog's resume). */
  constructor (private readonly owner: QueueOwner) {}

  /** Tasks pushed but not yet started. */
  get waiting (): number {
    return this.backlog === null ? 0 : (this.backlog.length - this.head) / 3
  }

  /** Runs `fn.call(self, arg)` after every task pushed before it has finished. */
  push (fn: Task, self?: unknown, arg?: unknown): void {
    if (this.running) {
      (this.backlog ??= []).push(fn, self, arg)
      return
    }
    this.running = true
    if (this.run(fn, self, arg)) this.drain()
  }

  /** Resolves once every task pushed so far has finished. */
  idle (): Promise<void> {
    if (!this.running) return Promise.resolve()
    return new Promise((resolve) => { (this.idleWaiters ??= []).push(resolve) })
  }

  // Runs one task; false when it returned a promise (the queue resumes when it settles).
  private run (fn: Task, self: unknown, arg: unknown): boolean {
    let result: unknown
    try {
      result = fn.call(self, arg)
    } catch (err) {
      this.owner.taskFailed(err)
      return true
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(() => { this.drain() }, (err: unknown) => { this.owner.taskFailed(err); this.drain() })
      return false
    }
    return true
  }

  private drain (): void {
    const backlog = this.backlog
    while (backlog !== null && this.head < backlog.length) {
      const i = this.head
      this.head += 3
      const more = this.run(backlog[i] as Task, backlog[i + 1], backlog[i + 2])
      backlog[i + 1] = backlog[i + 2] = undefined // let go of messages already handled
      if (!more) return
    }
    this.backlog = null
    this.head = 0
    this.running = false
    this.owner.queueIdle?.()
    const waiters = this.idleWaiters
    if (waiters !== null) {
      this.idleWaiters = null
      for (const resolve of waiters) resolve()
    }
  }
}
