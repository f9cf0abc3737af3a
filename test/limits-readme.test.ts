// The README's own operations stay within the default limits a member gets, so every example
// runs as pasted (a new example that breaks a limit fails here, naming the limit).
import {
  buildClientSchema,
  getIntrospectionQuery,
  getOperationAST,
  Kind,
  parse,
  type FragmentDefinitionNode,
} from "postgraphile/graphql";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { readmeDocuments } from "../src/documents/registry.ts";
import { measureDocument } from "../src/limits/document-measures.ts";
import { operationCost } from "../src/limits/operation-cost.ts";
import type { RunningServer } from "../src/server.ts";
import { graphql, startTestServer } from "./helpers/http-server.ts";

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

it("every README operation is within the member limits (depth, aliases, root fields, cost)", async () => {
  const introspection = await graphql(server, getIntrospectionQuery());
  const schema = buildClientSchema(introspection.body.data as never);
  const { limits } = loadConfig({});
  const over: string[] = [];
  for (const document of readmeDocuments()) {
    const ast = parse(document.text);
    const measures = measureDocument(ast).measure(document.name)!;
    const fragments = new Map(
      ast.definitions
        .filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION)
        .map((fragment) => [fragment.name.value, fragment]),
    );
    const cost = operationCost(schema, getOperationAST(ast, document.name)!, fragments, {}, limits);
    const problems = [
      measures.depth > limits.member.maxDepth && `depth ${measures.depth}`,
      measures.aliases > limits.member.maxAliases && `aliases ${measures.aliases}`,
      measures.rootFields > limits.member.maxRootFields && `root fields ${measures.rootFields}`,
      !cost.ok ? cost.message : cost.cost > limits.member.maxCost && `cost ${cost.cost}`,
    ].filter(Boolean);
    if (problems.length > 0) over.push(`${problems.join(", ")}: ${document.text.slice(0, 80).replace(/\s+/g, " ")}`);
  }
  expect(over).toEqual([]);
});
