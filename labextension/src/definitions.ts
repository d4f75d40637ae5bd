/** Where a Python name is defined, read from cell sources the way the kernel would see them. */

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether `source` binds `name` at top level: `def name`, `class name` or `name = ...`. */
export function defines(source: string, name: string): boolean {
  const n = escapeRegExp(name);
  const pattern = new RegExp(
    `^(?:(?:async\\s+)?def\\s+${n}\\s*\\(|class\\s+${n}\\s*[(:]|${n}\\s*(?::[^=\\n]*)?=(?!=))`,
    'm'
  );
  return pattern.test(source);
}

/** The index of the last of `sources[0..before)` that defines `name`, or -1. */
export function definingCell(sources: readonly string[], before: number, name: string): number {
  for (let index = before - 1; index >= 0; index--) {
    if (defines(sources[index], name)) {
      return index;
    }
  }
  return -1;
}
