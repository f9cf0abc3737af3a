// Trusted documents through @grafserv/persisted: a request names a registered document by its
// hash (`documentId`, `id` or Apollo's `extensions.persistedQuery.sha256Hash`) or sends its text
// (any layout: the selected operation is compared in canonical form, see operations.ts). When enforcing (production), anything else is refused here, before grafserv parses it,
// with DOCUMENT_NOT_TRUSTED; this gate runs before PersistedPlugin so that the plugin only ever
// substitutes known documents (its own generic refusal, and its console logging of the whole
// payload, variables included, never happen).
import { PersistedPlugin } from "@grafserv/persisted";
import type {} from "postgraphile/grafserv";
import { ErrorCode } from "../graphql/errors.ts";
import type { Logger } from "../logger.ts";
import { refuse } from "../limits/refusal.ts";
import { documentHash, parseDocumentId } from "./document-hash.ts";
import { documentKey, selectedOperation } from "./operations.ts";

const CANONICAL_CACHE_SIZE = 1000;
import type { DocumentStore } from "./document-store.ts";

const DOCUMENT_NOT_TRUSTED = ErrorCode.DOCUMENT_NOT_TRUSTED;

interface Payload {
  query?: unknown;
  id?: unknown;
  documentId?: unknown;
  extensions?: { persistedQuery?: { sha256Hash?: unknown } } | null;
}

/** The hash a request names explicitly, if any. */
function namedHash(body: Payload): string | undefined {
  const named = body.documentId ?? body.id ?? body.extensions?.persistedQuery?.sha256Hash;
  return named === undefined || named === null ? undefined : (parseDocumentId(named) ?? "invalid");
}

interface RequestWithAuthentication {
  prospectflowAuthentication?: { kind: string };
}

export function createTrustedDocumentsPresetParts(
  options: { enforce: boolean; store: DocumentStore },
  logger: Logger,
): { plugins: GraphileConfig.Plugin[]; grafserv: Partial<GraphileConfig.GrafservOptions> } {
  const { enforce, store } = options;
  // Canonical hashes of texts seen recently: a repeated document costs one lookup.
  const canonicalHashes = new Map<string, string>();
  const canonicalHash = (query: string, operationName: unknown): string => {
    const name = typeof operationName === "string" ? operationName : undefined;
    const key = `${name ?? ""}\u0000${query}`;
    let hash = canonicalHashes.get(key);
    if (hash === undefined) {
      hash = lookupHash(query, name);
      if (canonicalHashes.size >= CANONICAL_CACHE_SIZE) canonicalHashes.delete(canonicalHashes.keys().next().value!);
      canonicalHashes.set(key, hash);
    }
    return hash;
  };
  /** The registered hash of the operation a request selects, or the hash of its text (unregistered). */
  const lookupHash = (query: string, operationName: string | undefined): string => {
    let whole: string;
    try {
      whole = documentHash(documentKey(query));
    } catch {
      return "unparsable";
    }
    // The usual case, one operation sent as registered: one lexer pass. Only a document that may
    // hold other operations or reorder fragments is parsed to pick the selected operation out.
    if (store.get(whole) !== undefined || (operationName === undefined && !/\bfragment\b/.test(query))) return whole;
    const operation = selectedOperation(query, operationName);
    return operation ? documentHash(documentKey(operation.text)) : whole;
  };
  /** The hash to look up: an explicit one, or (when enforcing) the canonical hash of the text sent. */
  const hashOf = (body: Payload & { operationName?: unknown }): string | undefined => {
    const named = namedHash(body);
    if (named !== undefined) return named;
    return enforce && typeof body.query === "string" ? canonicalHash(body.query, body.operationName) : undefined;
  };

  const gate: GraphileConfig.Plugin = {
    name: "ProspectFlowTrustedDocumentsPlugin",
    version: "1.0.0",
    before: ["PersistedPlugin"],
    grafserv: {
      middleware: {
        processGraphQLRequestBody(next, event) {
          const body = event.body as Payload;
          const hash = hashOf(body);
          if (hash !== undefined && store.get(hash) === undefined) {
            const req = event.request?.requestContext.expressv4?.req as RequestWithAuthentication | undefined;
            throw refuse(
              {
                logger,
                query: typeof body.query === "string" ? body.query : undefined,
                operationName: typeof event.body.operationName === "string" ? event.body.operationName : undefined,
                anonymous: req?.prospectflowAuthentication?.kind !== "member",
              },
              DOCUMENT_NOT_TRUSTED,
              enforce && namedHash(body) === undefined
                ? "This server runs only registered (trusted) documents, and this operation is not one of them: send a " +
                    "registered operation or its `documentId` (register with `npm run documents -- add <file.graphql>`)."
                : "No registered document has this id: register it with `npm run documents -- add <file.graphql>`.",
              { documentId: hash },
            );
          }
          return next();
        },
      },
    },
  };
  return {
    plugins: [gate, PersistedPlugin],
    grafserv: {
      hashFromPayload: (payload) => hashOf(payload as Payload),
      // Never called for an unknown hash: the gate above refused it.
      persistedOperationsGetter: (hash) => store.get(hash) ?? "",
      allowUnpersistedOperation: !enforce,
    },
  };
}
