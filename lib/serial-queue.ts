// One connection's hooks, messages and subscription handlers run one at a time, in arrival
// order (like Iodine's per-connection lock). Synchronous tasks run back to back with no
// promise in between; an async task holds the queue until it settles. Kept small: there is
// one per connection, so closures and arrays are made only when needed.

export type Task = () => unknown

export class SerialQueue {
  private readonly tasks: Task[] = []
  private running = false
  private idleWaiters: Array<() => void> | null = null

  constructor (private readonly onError: (err: unknown) => void) {}

  /** Runs `task` after every task pushed before it has finished. */
  push (task: Task): void {
    this.tasks.push(task)
    if (!this.running) this.drain()
  }

  /** Resolves once every task pushed so far has finished. */
  idle (): Promise<void> {
    if (!this.running && this.tasks.length === 0) return Promise.resolve()
    return new Promise((resolve) => { (this.idleWaiters ??= []).push(resolve) })
  }

  private drain (): void {
    this.running = true
    while (this.tasks.length > 0) {
      const task = this.tasks.shift() as Task
      let result: unknown
      try {
        result = task()
      } catch (err) {
        this.onError(err)
        continue
      }
      if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).then(() => { this.drain() }, (err: unknown) => { this.onError(err); this.drain() })
        return
      }
    }
    this.running = false
    const waiters = this.idleWaiters
    if (waiters !== null) {
      this.idleWaiters = null
      for (const resolve of waiters) resolve()
    }
  }
}
