// Splits GraphQL text (a file, a README block, a request) into one document per operation: the
// operation plus the fragments it spreads, in canonical form (graphql-js `print`: comments and
// layout dropped), so the same operation hashes the same however a client formats it.
import {
  Kind,
  parse,
  print,
  visit,
  type DefinitionNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
} from "postgraphile/graphql";

export interface OperationDocument {
  /** The operation's name, or undefined for an anonymous one. */
  name: string | undefined;
  /** Canonical text: the operation, then its fragments by name. */
  text: string;
}

export function splitOperations(source: string): OperationDocument[] {
  const document = parse(source, { noLocation: true });
  return operationsOf(document).map((operation) => canonical(document, operation));
}

/** The canonical document of the operation a request selects; undefined when it does not parse or select one. */
export function selectedOperation(source: string, operationName: string | undefined): OperationDocument | undefined {
  let document: DocumentNode;
  try {
    document = parse(source, { noLocation: true });
  } catch {
    return undefined; // not GraphQL: never registered
  }
  const operations = operationsOf(document);
  const operation =
    operationName === undefined
      ? operations.length === 1
        ? operations[0]
        : undefined
      : operations.find((candidate) => candidate.name?.value === operationName);
  return operation ? canonical(document, operation) : undefined;
}

function operationsOf(document: DocumentNode): OperationDefinitionNode[] {
  return document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
}

function canonical(document: DocumentNode, operation: OperationDefinitionNode): OperationDocument {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const used = new Set<string>();
  const pending: DefinitionNode[] = [operation];
  while (pending.length > 0) {
    visit(pending.pop()!, {
      FragmentSpread(node) {
        const fragment = fragments.get(node.name.value);
        if (fragment && !used.has(node.name.value)) {
          used.add(node.name.value);
          pending.push(fragment);
        }
      },
    });
  }
  const parts = [operation, ...[...used].sort().map((name) => fragments.get(name)!)].map((node) => print(node));
  return { name: operation.name?.value, text: `${parts.join("\n\n")}\n` };
}
