// The streamed export reader: however the file is cut into chunks, it yields the same header
// values and the same rows, strings with braces, quotes and escapes included; it refuses
// malformed documents and values too long to be an exported row.
import { describe, expect, it } from "vitest";
import { ExportReader, ExportSyntaxError, type ExportEvent } from "../src/tenancy/export-reader.ts";

const rows = [
  { id: 1, note: 'braces } { and ] [ inside, a quote " and a backslash \\', nested: { a: [1, { b: "}" }] } },
  { id: 2, note: "unicode: é, 漢字, emoji 🎉, escaped \u0001", empty: [], nothing: null },
];
const document =
  ` { "format": "prospectflow-organisation-export", "version": 1, "exportedAt": "2026-12-02T00:00:00Z",\n` +
  `  "organisation": {"id": "o", "slug": "acme", "name": "A \\"quoted\\" name"},\n` +
  `  "tables": { "iam.organisations": [ ${JSON.stringify(rows[0])} ], "crm.people": [${rows.map((r) => JSON.stringify(r)).join(" ,\n ")}], "crm.companies": [] } }\n`;

function readAll(chunks: string[], reader = new ExportReader()): ExportEvent[] {
  const events = chunks.flatMap((chunk) => reader.feed(chunk));
  reader.end();
  return events;
}

const expected: ExportEvent[] = [
  { kind: "header", key: "format", value: "prospectflow-organisation-export" },
  { kind: "header", key: "version", value: 1 },
  { kind: "header", key: "exportedAt", value: "2026-12-02T00:00:00Z" },
  { kind: "header", key: "organisation", value: { id: "o", slug: "acme", name: 'A "quoted" name' } },
  { kind: "tables" },
  { kind: "table", name: "iam.organisations" },
  { kind: "row", json: JSON.stringify(rows[0]) },
  { kind: "tableEnd", name: "iam.organisations" },
  { kind: "table", name: "crm.people" },
  { kind: "row", json: JSON.stringify(rows[0]) },
  { kind: "row", json: JSON.stringify(rows[1]) },
  { kind: "tableEnd", name: "crm.people" },
  { kind: "table", name: "crm.companies" },
  { kind: "tableEnd", name: "crm.companies" },
  { kind: "end" },
];

describe("ExportReader", () => {
  it("yields the header, every table and every row, in one chunk", () => {
    expect(readAll([document])).toEqual(expected);
  });

  it("yields the same events whatever the chunk boundaries", () => {
    for (let cut = 1; cut < document.length; cut++) {
      expect(readAll([document.slice(0, cut), document.slice(cut)]), `cut at ${cut}`).toEqual(expected);
    }
    expect(readAll([...document])).toEqual(expected); // one character at a time
  });

  it.each([
    ["a truncated file", document.slice(0, document.length - 5), /ends before its closing brace/],
    ["an array at the top", "[1, 2]", /expected \{/],
    ["tables that are not an object", '{"format": "x", "tables": [1]}', /the value of "tables"/],
    ["rows that are not objects", '{"tables": {"crm.people": [1]}}', /a row/],
    ["a missing comma", '{"a": 1 "b": 2}', /expected , or \}/],
    ["text after the document", `${document} {}`, /nothing after the closing brace/],
  ])("refuses %s", (_label, text, message) => {
    expect(() => readAll([text])).toThrow(ExportSyntaxError);
    expect(() => readAll([text])).toThrow(message);
  });

  it("refuses a value longer than its limit, and reads one within it", () => {
    const long = `{"tables": {"crm.people": [{"note": "${"x".repeat(5000)}"}]}}`;
    const chunks = long.match(/[^]{1,1000}/g)!;
    expect(() => readAll(chunks, new ExportReader({ maxValueChars: 4000 }))).toThrow(/longer than 4000 characters/);
    expect(readAll(chunks, new ExportReader({ maxValueChars: 6000 })).filter((e) => e.kind === "row")).toHaveLength(1);
  });
});
