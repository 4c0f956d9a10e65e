/**
 * Options read from `Config` (`layerConfig`): a `Config.Wrap<Options>` — the whole options object as one `Config`,
 * or an object whose every field may be a `Config` — checked with the same validator as `make`, failing with a
 * typed `ConfigError.InvalidData` instead of a defect.
 *
 * Each field that is its own `Config` is checked as it is read, so the error names the user's config key
 * (`Invalid data at CB_MAX_FAILURES: "Expected maxFailures to be an integer >= 1, got 0"`); what only the whole
 * object can tell (`minRate <= initialRate`) names the option key.
 *
 * @internal
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"

/** The result of a validator: the resolved configuration, or the option at fault and the message. */
export type Validated<C> =
  | { readonly _tag: "Valid"; readonly config: C }
  | { readonly _tag: "Invalid"; readonly key: string; readonly message: string }

/** An invalid result for `key`. */
export const invalid = (key: string, message: string): Validated<never> => ({ _tag: "Invalid", key, message })

/** Per-field checks: a message for a bad value, `undefined` for a good one (never called with `undefined`). */
export type FieldChecks = { readonly [key: string]: (u: unknown) => string | undefined }

/**
 * The validated configuration of options read from `wrapped`: `fields` checks each field given as its own
 * `Config` while it is read, then `validate` checks the whole object.
 */
export const fromConfig = <O, C>(
  wrapped: Config.Config.Wrap<O>,
  fields: FieldChecks,
  validate: (options: O) => Validated<C>
): Config.Config<C> => {
  const checked = Config.isConfig(wrapped) ? wrapped : checkFields(wrapped as Record<string, unknown>, fields)
  return Config.mapOrFail(Config.unwrap(checked as Config.Config.Wrap<O>), (options) => {
    const validated = validate(options)
    return validated._tag === "Valid"
      ? Either.right(validated.config)
      : Either.left(ConfigError.InvalidData(validated.key.split("."), validated.message))
  })
}

const checkFields = (wrapped: Record<string, unknown>, fields: FieldChecks): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(wrapped)) {
    const check = fields[key]
    out[key] = check !== undefined && Config.isConfig(value)
      ? Config.mapOrFail(value, (u) => {
        const message = u === undefined ? undefined : check(u)
        return message === undefined ? Either.right(u) : Either.left(ConfigError.InvalidData([], message))
      })
      : value
  }
  return out
}
