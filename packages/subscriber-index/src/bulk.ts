/**
 * Multi-row INSERT: one statement call per `rows` rows instead of one per row. Each call into
 * node:sqlite costs a fixed amount (binding, a native transition), which dominates small rows.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite'

type Value = number | string | null

export class BulkInsert {
  #one: StatementSync
  #many: StatementSync
  #width: number
  #rows: number
  #buf: Value[] = []

  /** `head` is `INSERT ... INTO t (a, b, c)`; `width` the column count. */
  constructor(db: DatabaseSync, head: string, width: number, rows = 64) {
    const tuple = `(${Array.from({ length: width }, () => '?').join(', ')})`
    this.#one = db.prepare(`${head} VALUES ${tuple}`)
    this.#many = db.prepare(`${head} VALUES ${Array.from({ length: rows }, () => tuple).join(', ')}`)
    this.#width = width
    this.#rows = rows
  }

  add(...values: Value[]): void {
    for (const v of values) this.#buf.push(v)
    if (this.#buf.length === this.#width * this.#rows) {
      this.#many.run(...this.#buf)
      this.#buf.length = 0
    }
  }

  /** Write what is buffered; call before COMMIT. */
  flush(): void {
    const b = this.#buf
    for (let i = 0; i < b.length; i += this.#width) this.#one.run(...b.slice(i, i + this.#width))
    b.length = 0
  }

  /** Drop what is buffered (after a failed transaction). */
  clear(): void {
    this.#buf.length = 0
  }
}
