/**
 * The reader's view of the append-only tables `names` and `series`, cached per connection: a
 * query's stream, module and series lookups are then one `max(id)` each instead of reading them.
 * Why that is exact: the writer only ever inserts into them (it never deletes or renames a name,
 * and updates only a series' `last*` columns, which are not read here); a rebuild writes another
 * file.
 */
import type { StatementSync } from 'node:sqlite'
import type { StreamFilter } from './query.ts'
import { kModule, kStream } from './schema.ts'

export type SeriesIds = Array<{ id: number; stream: number; module: number }>

export class Catalog {
  readonly #prep: (sql: string) => StatementSync
  #nameCache: {
    top: number
    byKind: Map<number, Map<number, string>>
    /** Module name → id. */
    byName?: Map<string, number>
  } = { top: -1, byKind: new Map() }
  /** `seriesOf` answers by their parameters, with the series table's max(id) they were read at. */
  #seriesCache = new Map<string, { top: number; series: SeriesIds }>()

  constructor(prep: (sql: string) => StatementSync) {
    this.#prep = prep
  }

  /** The names of one kind (id → name), kept while the table's largest id is unchanged. */
  names(kind: number): Map<number, string> {
    const top = (this.#prep('SELECT max(id) AS top FROM names').get() as { top: number | null }).top ?? 0
    if (this.#nameCache.top !== top) this.#nameCache = { top, byKind: new Map() }
    let names = this.#nameCache.byKind.get(kind)
    if (names === undefined) {
      const rows = this.#prep('SELECT id, name FROM names WHERE kind = ?').all(kind) as Array<{
        id: number
        name: string
      }>
      names = new Map(rows.map((r) => [r.id, r.name]))
      this.#nameCache.byKind.set(kind, names)
    }
    return names
  }

  /** Ids of the streams passing `filter` (a JSON array for `IN (SELECT value FROM json_each(?))`). */
  streamIds(filter: StreamFilter): { ids: string; names: Map<number, string> } {
    const names = this.names(kStream)
    const ids = [...names].filter(([, n]) => filter(n)).map(([id]) => id)
    return { ids: JSON.stringify(ids), names }
  }

  moduleId(module: string | undefined): number | undefined | null {
    if (module === undefined) return undefined
    const modules = this.names(kModule)
    this.#nameCache.byName ??= new Map([...modules].map(([id, n]) => [n, id]))
    return this.#nameCache.byName.get(module) ?? null
  }

  /** The series (id order, at most `limit`) of a field in streams `ids` (and a module). */
  seriesOf(field: string, ids: string, moduleId: number | undefined, limit: number): SeriesIds {
    const top = (this.#prep('SELECT max(id) AS top FROM series').get() as { top: number | null }).top ?? 0
    const key = `${field}\n${ids}\n${moduleId ?? ''}\n${limit}`
    const hit = this.#seriesCache.get(key)
    if (hit?.top === top) return hit.series
    const series = this.#prep(
      `SELECT id, stream, module FROM series WHERE field = ? AND stream IN (SELECT value FROM json_each(?))
         AND (? IS NULL OR module = ?) ORDER BY id LIMIT ?`,
    ).all(field, ids, moduleId ?? null, moduleId ?? null, limit) as SeriesIds
    if (this.#seriesCache.size >= 256) this.#seriesCache.clear()
    this.#seriesCache.set(key, { top, series })
    return series
  }

  clear(): void {
    this.#nameCache = { top: -1, byKind: new Map() }
    this.#seriesCache.clear()
  }
}
