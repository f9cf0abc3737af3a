// The bench's own trusted documents: every scenario's GraphQL operation, registered in
// bench/documents (`npm run documents -- sync-bench`) so the API variant can run with trusted
// documents on (the bench server loads TRUSTED_DOCUMENTS_DIRS=bench/documents).
import type { OperationDocument } from "../src/documents/operations.ts";
import { splitOperations } from "../src/documents/operations.ts";
import { SCENARIOS } from "./scenarios.ts";

export function benchOperations(): OperationDocument[] {
  const seen = new Set<string>();
  return SCENARIOS.flatMap((scenario) => (scenario.graphql ? splitOperations(scenario.graphql.query) : [])).filter(
    (operation) => {
      if (seen.has(operation.text)) return false;
      seen.add(operation.text);
      return true;
    },
  );
}
