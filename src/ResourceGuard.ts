/**
 * Fail-fast exclusion (asyncutils' `ResourceGuard` / `UniqueResourceGuard`, after anyio's `ResourceGuard`).
 *
 * A guard protects one resource from concurrent use: `use(self)` enters the guard, runs `self` and leaves it on
 * any exit (success, failure, defect, interruption). If the guard is already held, `use` fails at once with
 * `ResourceBusyError` — it never waits. Use it where concurrent use is a bug to report (two writers on one file,
 * two readers on one socket), not to queue work: for waiting, use a `Semaphore` or a `Throttle`.
 *
 * The guard is not re-entrant: a nested `use` of the same guard, even by the same fiber, is busy.
 *
 * `UniqueResourceGuard.of(object)` returns the one guard of an object (by identity), creating it on first use, so
 * independent parts of a program guard the same object together without passing the guard around.
 *
 * Cost: O(1) per operation; the guard state is one `Ref`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ResourceGuard } from "effect-throttles"
 *
 * const program = Effect.gen(function*() {
 *   const guard = yield* ResourceGuard.make({ resource: "out.csv", action: "writing" })
 *   yield* guard.use(Effect.log("writing"))
 *   // while held, another `guard.use(...)` fails with
 *   // ResourceBusyError: another fiber is already writing resource: out.csv
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { ResourceBusyError } from "./internal/resourceGuard.js"
import * as internal from "./internal/resourceGuard.js"

export {
  /**
   * `use` found the guard held. `resource` is the rendered resource name, `action` the guard's action.
   * Message: "another fiber is already {action} resource: {resource}".
   *
   * @since 0.1.0
   * @category errors
   */
  ResourceBusyError
} from "./internal/resourceGuard.js"

/**
 * A fail-fast guard around one resource of type `R`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourceGuard<R = unknown> {
  /** The guarded resource (`undefined` for an anonymous guard). */
  readonly resource: R
  /**
   * The resource as shown in messages: `String(resource)` for strings and numbers, readable JSON for objects
   * (their own `toString` when they have one), `anonymous resource #N` when no resource was given.
   */
  readonly name: string
  /** The action named in `ResourceBusyError` messages, e.g. `"using"` (default), `"writing"`, `"closing"`. */
  readonly action: string
  /**
   * Enters the guard, runs `self`, leaves the guard on any exit. Fails at once with `ResourceBusyError` (without
   * running `self`) when the guard is held.
   */
  readonly use: <A, E, Env>(self: Effect.Effect<A, E, Env>) => Effect.Effect<A, E | ResourceBusyError, Env>
  /** `use` with the resource handed to `f` (`f` is called only once the guard is entered). */
  readonly useResource: <A, E, Env>(
    f: (resource: R) => Effect.Effect<A, E, Env>
  ) => Effect.Effect<A, E | ResourceBusyError, Env>
  /** Whether the guard is held now. */
  readonly guarded: Effect.Effect<boolean>
  /**
   * Granted entries / entry attempts, in `[0, 1]`; 0 with no attempts. An entry is granted when the guard was
   * free, whatever the body then did. Example: 3 granted and 1 busy → 0.75.
   */
  readonly successRatio: Effect.Effect<number>
}

/**
 * Types of the resource guard.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace ResourceGuard {
  /**
   * Options of `ResourceGuard.make`.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Options<R> {
    /**
     * The guarded resource, named in error messages and handed to `useResource`. Default: none — the guard is
     * named `anonymous resource #N` (N from a process-wide counter). Example: `"out.csv"`.
     */
    readonly resource?: R | undefined
    /** The action named in error messages. Default `"using"`. Example: `"writing"`. */
    readonly action?: string | undefined
  }
}

/**
 * Resource guards.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ResourceGuard: {
  /**
   * Creates a guard, not held. Without a `resource` the guard is named `anonymous resource #N`. A non-string
   * `action` is a defect.
   *
   * @since 0.1.0
   * @category constructors
   */
  readonly make: <R = undefined>(options?: ResourceGuard.Options<R>) => Effect.Effect<ResourceGuard<R>>
} = { make: internal.make }

/**
 * Creates a guard, not held (the same as `ResourceGuard.make`): `import { make } from "effect-throttles/ResourceGuard"`.
 * Without a `resource` the guard is named `anonymous resource #N`. A non-string `action` is a defect.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: <R = undefined>(options?: ResourceGuard.Options<R>) => Effect.Effect<ResourceGuard<R>> =
  internal.make

/**
 * Types of the unique resource guard.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace UniqueResourceGuard {
  /**
   * Options of `UniqueResourceGuard.of`, used only when the guard is created.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Options {
    /** The action named in error messages. Default `"using"`. Example: `"writing"`. */
    readonly action?: string | undefined
  }
}

/**
 * One guard per object identity, shared by the whole process.
 *
 * The cache holds the objects weakly: once an object is otherwise unreachable, it and its guard can be garbage
 * collected. Note that a `ResourceGuard.make({ resource: object })` is a separate guard and does not exclude the
 * unique one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const UniqueResourceGuard: {
  /**
   * The guard of `object` (by identity), created on first call (not held) with `options`. For an existing guard
   * the options are ignored; options that differ from the guard's are reported with `Effect.logWarning`.
   * The guard's resource is the object itself, named by its rendering. Dies with "Expected an object, got ..."
   * for a primitive.
   *
   * @since 0.1.0
   * @category constructors
   */
  readonly of: <O extends object>(object: O, options?: UniqueResourceGuard.Options) => Effect.Effect<ResourceGuard<O>>
  /**
   * Forgets every cached guard: later `of` calls create new guards. Guards already handed out keep working but
   * no longer exclude the new ones, so call it only when no guard is in use.
   *
   * @since 0.1.0
   * @category commands
   */
  readonly clearCache: Effect.Effect<void>
} = { of: internal.of, clearCache: internal.clearCache }
