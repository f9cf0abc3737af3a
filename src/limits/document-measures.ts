// Schema-free measures of one operation, taken before grafserv parses or validates anything:
// depth, aliases and root fields with fragments expanded, and whether it introspects. Each
// fragment is measured once and its figures reused wherever it is spread, so a fragment bomb
// (fragments spreading fragments, each spread several times) costs the size of its text, not of
// its expansion; figures only grow, so an expansion beyond any limit saturates at Infinity.
import {
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "postgraphile/graphql";

export interface OperationMeasures {
  depth: number;
  aliases: number;
  rootFields: number;
  /** Every field, fragments expanded: a lower bound of the cost estimate, known before validation. */
  fields: number;
  introspection: boolean;
}

export interface DocumentMeasures {
  operations: number;
  /** The measures of the operation a request selects by name (or the only one). */
  measure(operationName: string | undefined): OperationMeasures | undefined;
}

interface SetMeasures {
  depth: number;
  aliases: number;
  /** Fields of this selection set itself (fragments expanded). */
  fields: number;
  /** Fields at any depth below it too. */
  total: number;
  introspection: boolean;
}

const EMPTY: SetMeasures = { depth: 0, aliases: 0, fields: 0, total: 0, introspection: false };

export function measureDocument(document: DocumentNode): DocumentMeasures {
  const operations: OperationDefinitionNode[] = [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) operations.push(definition);
    else if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const memo = new Map<string, SetMeasures>();

  const measureFragment = (name: string): SetMeasures => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const fragment = fragments.get(name);
    // A cycle (invalid; validation will say so) or an unknown fragment counts as nothing here.
    memo.set(name, EMPTY);
    const measured = fragment ? measureSet(fragment.selectionSet) : EMPTY;
    memo.set(name, measured);
    return measured;
  };

  const measureSet = (set: SelectionSetNode): SetMeasures => {
    let depth = 0;
    let aliases = 0;
    let fields = 0;
    let total = 0;
    let introspection = false;
    for (const selection of set.selections) {
      let inner: SetMeasures;
      if (selection.kind === Kind.FIELD) {
        const child = selection.selectionSet ? measureSet(selection.selectionSet) : EMPTY;
        inner = {
          depth: 1 + child.depth,
          aliases: (selection.alias ? 1 : 0) + child.aliases,
          fields: 1,
          total: 1 + child.total,
          introspection:
            child.introspection || selection.name.value === "__schema" || selection.name.value === "__type",
        };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        inner = measureSet(selection.selectionSet);
      } else {
        inner = measureFragment(selection.name.value);
      }
      depth = Math.max(depth, inner.depth);
      aliases += inner.aliases;
      fields += inner.fields;
      total += inner.total;
      introspection ||= inner.introspection;
    }
    return { depth, aliases, fields, total, introspection };
  };

  return {
    operations: operations.length,
    measure(operationName) {
      const operation =
        operationName == null
          ? operations.length === 1
            ? operations[0]
            : undefined
          : operations.find((candidate) => candidate.name?.value === operationName);
      if (operation === undefined) return undefined;
      const measured = measureSet(operation.selectionSet);
      return {
        depth: measured.depth,
        aliases: measured.aliases,
        rootFields: measured.fields,
        fields: measured.total,
        introspection: measured.introspection,
      };
    },
  };
}
