// Makes update and delete mutations fail with NOT_FOUND when no row matched, instead of
// answering `null`: the client asked to change a specific row and must learn it was not changed.
// (A row of another organisation is invisible under RLS, so it is "not found" too: its
// existence never leaks.)
import { SafeError, sideEffect, type ObjectStep, type Step } from "postgraphile/grafast";
import { wrapPlans } from "postgraphile/utils";

export const NOT_FOUND_MESSAGE = "Not found: no row with this id exists in your organisation.";

export const NotFoundOnEmptyMutationPlugin = wrapPlans(
  (context) =>
    context.scope.isRootMutation && (context.scope.isPgUpdateMutation || context.scope.isPgDeleteMutation)
      ? true
      : null,
  () => (plan) => {
    const $payload = plan() as ObjectStep<{ result: Step }>;
    sideEffect($payload.getStepForKey("result"), (row) => {
      if (row == null) throw new SafeError(NOT_FOUND_MESSAGE, { code: "NOT_FOUND" });
    });
    return $payload;
  },
  { disableResolverEmulationWarnings: true },
);
