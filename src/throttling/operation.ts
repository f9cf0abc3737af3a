// What the throttle needs to know about a validated operation: its root fields (through fragments,
// every alias counted) and, per field, the `input.email` it was given (inline or as a variable).
import {
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  type ValueNode,
} from "postgraphile/graphql";

export interface RootFieldCall {
  /** The field's name (`login`), whatever its alias. */
  name: string;
  /** Where its answer and errors appear (`path[0]`): the alias, or the name. */
  responseKey: string;
  /** `input.email`, trimmed and lower-cased, when the field has one. */
  email: string | undefined;
}

export function rootFieldCalls(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | null | undefined,
): RootFieldCall[] {
  const fragments = new Map(
    document.definitions.flatMap((definition) =>
      definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition] as const] : [],
    ),
  );
  // A variable left out takes its default: `mutation($e: String = "victim@…")` must count too.
  const values: Record<string, unknown> = {};
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (variables && Object.hasOwn(variables, name)) values[name] = variables[name];
    else if (definition.defaultValue) values[name] = valueFromASTUntyped(definition.defaultValue);
  }
  const calls: RootFieldCall[] = [];
  const visited = new Set<string>();
  // `@skip(if: true)` / `@include(if: false)` selections do not run: they are not calls.
  const runs = (selection: SelectionNode) =>
    (selection.directives ?? []).every((directive) => {
      const name = directive.name.value;
      if (name !== "skip" && name !== "include") return true;
      const argument = directive.arguments?.find((candidate) => candidate.name.value === "if")?.value;
      const condition =
        argument?.kind === Kind.VARIABLE
          ? values[argument.name.value] === true
          : argument?.kind === Kind.BOOLEAN && argument.value;
      return name === "skip" ? !condition : condition;
    });
  const walk = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (!runs(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith("__")) continue;
        const input = selection.arguments?.find((argument) => argument.name.value === "input")?.value;
        calls.push({
          name: selection.name.value,
          responseKey: selection.alias?.value ?? selection.name.value,
          email: normaliseEmail(emailOf(input, values)),
        });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet);
      } else {
        // Validation has refused fragment cycles already; `visited` only keeps this cheap.
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment && !visited.has(name)) {
          visited.add(name);
          walk(fragment.selectionSet);
        }
      }
    }
  };
  walk(operation.selectionSet);
  return calls;
}

function emailOf(input: ValueNode | undefined, variables: Record<string, unknown>): unknown {
  if (input === undefined) return undefined;
  if (input.kind === Kind.VARIABLE) {
    const value = variables[input.name.value];
    return value !== null && typeof value === "object" ? (value as { email?: unknown }).email : undefined;
  }
  if (input.kind !== Kind.OBJECT) return undefined;
  const email = input.fields.find((field) => field.name.value === "email")?.value;
  if (email === undefined) return undefined;
  if (email.kind === Kind.STRING) return email.value;
  if (email.kind === Kind.VARIABLE) return variables[email.name.value];
  return undefined;
}

function normaliseEmail(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const email = value.trim().toLowerCase();
  return email === "" ? undefined : email;
}
