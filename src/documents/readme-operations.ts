// The README's example operations: every ```graphql block, split into one document per operation.
import { splitOperations, type OperationDocument } from "./operations.ts";

const GRAPHQL_BLOCK = /^```graphql\n([\s\S]*?)^```$/gm;

export function readmeOperations(readme: string): OperationDocument[] {
  return [...readme.matchAll(GRAPHQL_BLOCK)].flatMap((match) => splitOperations(match[1]!));
}
