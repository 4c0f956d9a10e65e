/**
 * The pure core of the resource guards: the entry decision, the resource's rendering, and the per-object cache
 * (held process-wide by the shell, `internal/resourceGuard.ts`, through `globalValue`). No Effect import.
 *
 * @internal
 */

/** Guard state: whether it is held, and the entry attempts and successes so far. */
export interface State {
  readonly held: boolean
  readonly attempts: number
  readonly successes: number
}

/** A fresh guard. */
export const initial: State = { held: false, attempts: 0, successes: 0 }

/** An entry attempt: granted (and counted as a success) when the guard is free; always counted as an attempt. */
export const enter = (state: State): readonly [granted: boolean, next: State] =>
  state.held
    ? [false, { ...state, attempts: state.attempts + 1 }]
    : [true, { held: true, attempts: state.attempts + 1, successes: state.successes + 1 }]

/** Leaving the guard. */
export const leave = (state: State): State => ({ ...state, held: false })

/** Successful entries / attempts; 0 with no attempts. */
export const successRatio = (state: State): number => state.attempts === 0 ? 0 : state.successes / state.attempts

/**
 * Renders a resource for messages: strings as they are, other primitives with `String`, objects with their own
 * `toString` when they have one, otherwise as `ClassName {json}` (plain objects and arrays as bare JSON).
 */
export const render = (resource: unknown): string => {
  switch (typeof resource) {
    case "string":
      return resource
    case "function":
      return resource.name === "" ? "[anonymous function]" : `[function ${resource.name}]`
    case "object": {
      if (resource === null) return "null"
      if (!Array.isArray(resource) && hasOwnToString(resource)) {
        try {
          return String(resource)
        } catch {
          // fall through to the structural rendering
        }
      }
      const json = safeJson(resource)
      const ctor = constructorName(resource)
      return ctor === undefined || ctor === "Object" || ctor === "Array" ? json : `${ctor} ${json}`
    }
    default:
      return String(resource)
  }
}

const hasOwnToString = (object: object): boolean => {
  const toString = (object as { readonly toString?: unknown }).toString
  return typeof toString === "function" && toString !== Object.prototype.toString
}

const constructorName = (object: object): string | undefined => {
  const ctor: unknown = Object.getPrototypeOf(object)?.constructor
  return typeof ctor === "function" && ctor.name !== "" ? ctor.name : undefined
}

/** JSON with every object shown once: a repeated (or circular) reference is left out. */
const safeJson = (object: object): string => {
  const seen = new WeakSet<object>()
  try {
    return JSON.stringify(object, (_key, value: unknown) => {
      if (typeof value !== "object" || value === null) return value
      if (seen.has(value)) return undefined
      seen.add(value)
      return value
    }) ?? "{}"
  } catch {
    return "{}"
  }
}

/** The anonymous guards' counter (one per process, held by the shell). */
export interface Counter {
  count: number
}

/** The next anonymous name from `counter`: `anonymous resource #1`, `#2`, ... */
export const nextAnonymousName = (counter: Counter): string => `anonymous resource #${++counter.count}`

/**
 * The cache of unique guards: one per object identity, held weakly (a `WeakMap` entry does not keep
 * its key alive, even though the guard refers to the object). `clear` swaps in a fresh map.
 */
export class Registry<G> {
  private map = new WeakMap<object, G>()

  get(key: object): G | undefined {
    return this.map.get(key)
  }

  set(key: object, guard: G): void {
    this.map.set(key, guard)
  }

  clear(): void {
    this.map = new WeakMap()
  }
}
