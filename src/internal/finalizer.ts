/**
 * Finalizers for the hot paths: those of every new key of a Redis keyed throttle, one per keyed `get`, per request
 * admitted by the `HttpApi` middleware, per request of `ThrottledHttpClient`.
 *
 * `Effect.addFinalizer` (and `Effect.acquireRelease`, built on it) captures the adding fiber's `FiberRefs` and, when
 * the scope closes, diffs and patches the closing fiber's refs to them around the finalizer and back: two diffs
 * and two patches of every `FiberRef` per finalizer. That is for finalizers that read the fiber's context (a
 * service, a log annotation, the current span). The ones added here close over what they need and read nothing
 * from the fiber, so they go straight to the scope (`Scope.addFinalizer`), made uninterruptible as
 * `addFinalizer` makes them (a scope closed from an interruptible fiber still runs each one to its end).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"

/** Runs `finalizer` (uninterruptibly) when `scope` closes; it must not need anything from the fiber's context. */
export const addTo = (scope: Scope.Scope, finalizer: Effect.Effect<void>): Effect.Effect<void> =>
  Scope.addFinalizer(scope, Effect.uninterruptible(finalizer))

/** Runs `finalizer` (uninterruptibly) when the current scope closes; see `addTo`. */
export const add = (finalizer: Effect.Effect<void>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => addTo(scope, finalizer))

/** `Effect.acquireRelease` with a release that needs nothing from the fiber's context; see `addTo`. */
export const acquireRelease = <A, E, R>(
  acquire: Effect.Effect<A, E, R>,
  release: (a: A, exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
): Effect.Effect<A, E, R | Scope.Scope> =>
  Effect.uninterruptible(
    Effect.flatMap(Effect.scope, (scope) =>
      Effect.tap(acquire, (a) => Scope.addFinalizerExit(scope, (exit) => Effect.uninterruptible(release(a, exit)))))
  )
