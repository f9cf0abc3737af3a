// Splits GraphQL text (a file, a README block, a request) into one document per operation: the
// operation plus the fragments it spreads (by name), as written. Its hash is taken over its
// tokens (graphql-js `stripIgnoredCharacters`: comments, commas and layout dropped), so the same
// operation hashes the same however a client lays it out; stripping is a lexer pass, far cheaper
// than parsing and printing.
import {
  getOperationAST,
  Kind,
  parse,
  stripIgnoredCharacters,
  visit,
  type DefinitionNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
} from "postgraphile/graphql";

export interface OperationDocument {
  /** The operation's name, or undefined for an anonymous one. */
  name: string | undefined;
  /** The operation, then its fragments by name, as written. */
  text: string;
}

/** The text a document's hash is taken over; throws on text that does not lex. */
export function documentKey(text: string): string {
  return stripIgnoredCharacters(text);
}

export function splitOperations(source: string): OperationDocument[] {
  const document = parse(source);
  return operationsOf(document).map((operation) => canonical(source, document, operation));
}

/** The canonical document of the operation a request selects; undefined when it does not parse or select one. */
export function selectedOperation(source: string, operationName: string | undefined): OperationDocument | undefined {
  let document: DocumentNode;
  try {
    document = parse(source);
  } catch {
    return undefined; // not GraphQL: never registered
  }
  const operation = getOperationAST(document, operationName);
  return operation ? canonical(source, document, operation) : undefined;
}

function operationsOf(document: DocumentNode): OperationDefinitionNode[] {
  return document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
}

function canonical(source: string, document: DocumentNode, operation: OperationDefinitionNode): OperationDocument {
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
  const parts = [operation, ...[...used].sort().map((name) => fragments.get(name)!)].map((node) =>
    source.slice(node.loc!.start, node.loc!.end),
  );
  return { name: operation.name?.value, text: `${parts.join("\n\n")}\n` };
}
