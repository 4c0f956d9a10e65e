/**
 * The resource guards' Effect shell: the guard itself (one `Ref` over the core's state), the busy error, and the
 * process-wide state — the anonymous counter and the unique guards' cache — held through `globalValue`, so that
 * two copies of the library loaded in one process still share them.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { globalValue } from "effect/GlobalValue"
import * as Ref from "effect/Ref"
import type { ResourceGuard, UniqueResourceGuard } from "../ResourceGuard.js"
import * as check from "./options.js"
import * as core from "./resourceGuardCore.js"

/** See `ResourceGuard.ResourceBusyError`. */
export class ResourceBusyError extends Data.TaggedError("ResourceBusyError")<{
  readonly resource: string
  readonly action: string
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `another fiber is already ${this.action} resource: ${this.resource}`
  }
}

/** The process-wide counter of anonymous guards. */
const anonymous: core.Counter = globalValue(Symbol.for("effect-throttles/ResourceGuard/anonymous"), () => ({
  count: 0
}))

/** The process-wide cache of unique guards. */
const registry: core.Registry<ResourceGuard<any>> = globalValue(
  Symbol.for("effect-throttles/UniqueResourceGuard/registry"),
  () => new core.Registry<ResourceGuard<any>>()
)

const unsafeMakeGuard = <R>(resource: R, name: string, action: string): ResourceGuard<R> => {
  const ref = Ref.unsafeMake(core.initial)
  const use = <A, E, Env>(self: Effect.Effect<A, E, Env>): Effect.Effect<A, E | ResourceBusyError, Env> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        Ref.modify(ref, core.enter),
        (granted): Effect.Effect<A, E | ResourceBusyError, Env> =>
          granted
            ? Effect.ensuring(restore(self), Ref.update(ref, core.leave))
            : Effect.fail(new ResourceBusyError({ resource: name, action }))
      )
    )
  return {
    resource,
    name,
    action,
    use,
    useResource: (f) => use(Effect.suspend(() => f(resource))),
    guarded: Effect.map(Ref.get(ref), (state) => state.held),
    successRatio: Effect.map(Ref.get(ref), core.successRatio)
  }
}

/** The "Expected X, got Y" message of a bad `action`, or `undefined`. */
const checkAction = (options: { readonly action?: string | undefined } | undefined): string | undefined =>
  options?.action === undefined ? undefined : check.string(options.action, "action")

/** `ResourceGuard.make`. */
export const make = <R = undefined>(options?: ResourceGuard.Options<R>): Effect.Effect<ResourceGuard<R>> =>
  Effect.suspend(() => {
    const invalid = checkAction(options)
    if (invalid !== undefined) return check.die(invalid)
    const resource = options?.resource as R
    const name = options?.resource === undefined ? core.nextAnonymousName(anonymous) : core.render(resource)
    return Effect.succeed(unsafeMakeGuard(resource, name, options?.action ?? "using"))
  })

/** `UniqueResourceGuard.of`. */
export const of = <O extends object>(
  object: O,
  options?: UniqueResourceGuard.Options
): Effect.Effect<ResourceGuard<O>> =>
  Effect.suspend((): Effect.Effect<ResourceGuard<O>> => {
    if ((typeof object !== "object" && typeof object !== "function") || object === null) {
      return check.die(check.expected("an object", object))
    }
    const invalid = checkAction(options)
    if (invalid !== undefined) return check.die(invalid)
    const existing: ResourceGuard<O> | undefined = registry.get(object)
    if (existing !== undefined) {
      const action = options?.action
      return action !== undefined && action !== existing.action
        ? Effect.as(
          Effect.logWarning(
            `UniqueResourceGuard.of: resource ${existing.name} already has a guard (action "${existing.action}"); ignoring the options { action: "${action}" }`
          ),
          existing
        )
        : Effect.succeed(existing)
    }
    // Creating the guard is synchronous, so no other fiber can slip in between the lookup and the insertion.
    const created = unsafeMakeGuard(object, core.render(object), options?.action ?? "using")
    registry.set(object, created)
    return Effect.succeed(created)
  })

/** `UniqueResourceGuard.clearCache`. */
export const clearCache: Effect.Effect<void> = Effect.sync(() => registry.clear())
