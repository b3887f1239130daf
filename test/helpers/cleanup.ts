/** A stack of undo steps: register each one on the line after creating what it undoes. */
type Step = () => unknown;

const steps: Step[] = [];

/** Registers `step` to run when the current test ends (last registered runs first). */
export function defer(step: Step): void {
  steps.push(step);
}

/**
 * Runs every registered step, newest first, awaiting each; for `afterEach(drainCleanup)`.
 * Every step runs even when one fails; the first failure is rethrown at the end.
 */
export async function drainCleanup(): Promise<void> {
  let firstError: Error | undefined;
  while (steps.length > 0) {
    const step = steps.pop()!;
    try {
      await step();
    } catch (err) {
      firstError ??= err instanceof Error ? err : new Error('a cleanup step failed', { cause: err });
    }
  }
  if (firstError !== undefined) throw firstError;
}
