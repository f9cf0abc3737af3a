// Reads an organisation export as a stream: a small incremental JSON scanner that hands over the
// header fields (format, version, organisation…) as values and every row of every table as its
// JSON text, chunk by chunk, so that an import never holds more than a chunk and a batch of rows.
// It knows the export's shape ({…header, "tables": {"schema.table": [row, …], …}}) and nothing else.

export type ExportEvent =
  | { kind: "header"; key: string; value: unknown }
  | { kind: "tables" }
  | { kind: "table"; name: string }
  | { kind: "row"; json: string }
  | { kind: "tableEnd"; name: string }
  | { kind: "end" };

export class ExportSyntaxError extends Error {
  override name = "ExportSyntaxError";
}

interface Frame {
  container: "object" | "array";
  /** What the scanner expects next inside this container. */
  expect: "key" | "colon" | "value" | "comma";
  key: string | undefined;
  /** The role of the values this container holds. */
  role: "root" | "tables" | "table";
  name: string | undefined;
}

interface Capture {
  parts: string[];
  /** Characters held in parts. */
  length: number;
  start: number;
  depth: number;
  inString: boolean;
  escape: boolean;
  primitive: boolean;
  /** "key" captures an object key; "header" a top-level value; "row" a table row. */
  purpose: "key" | "header" | "row";
}

/**
 * The longest value the reader holds (in characters): the largest row a table allows (a message
 * with its 2 MB HTML and 1 MB text bodies, escaped) fits many times over; a file with a longer
 * one was not written by tenant:export, and must not make the import hold it in memory.
 */
export const MAX_VALUE_CHARS = 32 * 1024 * 1024;

const isWhitespace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export class ExportReader {
  private readonly stack: Frame[] = [];
  private readonly maxValueChars: number;
  private capture: Capture | undefined;
  private finished = false;
  private started = false;
  private position = 0;
  private events: ExportEvent[] = [];

  constructor(options: { maxValueChars?: number } = {}) {
    this.maxValueChars = options.maxValueChars ?? MAX_VALUE_CHARS;
  }

  /** Scans one chunk; returns the events it completed (rows, tables, header fields). */
  feed(chunk: string): ExportEvent[] {
    this.events = [];
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      const capture = this.capture;
      if (capture !== undefined) {
        if (capture.inString) {
          if (capture.escape) capture.escape = false;
          else if (c === 0x5c) capture.escape = true;
          else if (c === 0x22) {
            capture.inString = false;
            if (capture.depth === 0) this.finishCapture(chunk, i + 1);
          }
        } else if (capture.primitive) {
          if (c === 0x2c || c === 0x7d || c === 0x5d || isWhitespace(c)) {
            this.finishCapture(chunk, i);
            i--; // the delimiter belongs to the container
          }
        } else if (c === 0x22) capture.inString = true;
        else if (c === 0x7b || c === 0x5b) capture.depth++;
        else if (c === 0x7d || c === 0x5d) {
          capture.depth--;
          if (capture.depth === 0) this.finishCapture(chunk, i + 1);
        }
        continue;
      }
      if (isWhitespace(c)) continue;
      this.structural(c, chunk, i);
    }
    if (this.capture !== undefined) {
      const rest = chunk.slice(this.capture.start);
      this.capture.parts.push(rest);
      this.capture.length += rest.length;
      this.capture.start = 0;
      if (this.capture.length > this.maxValueChars) {
        throw new ExportSyntaxError(
          `a value longer than ${this.maxValueChars} characters at character ${this.position} (not an export tenant:export writes)`,
        );
      }
    }
    this.position += chunk.length;
    return this.events;
  }

  /** Call after the last chunk: fails unless the document was complete. */
  end(): void {
    if (!this.finished) throw new ExportSyntaxError("the export ends before its closing brace (truncated file?)");
  }

  private fail(chunk: string, index: number, expected: string): never {
    const found = chunk[index] ?? "end of file";
    throw new ExportSyntaxError(
      `unexpected ${JSON.stringify(found)} at character ${this.position + index}, expected ${expected}`,
    );
  }

  private startCapture(purpose: Capture["purpose"], c: number, index: number): void {
    const isString = c === 0x22;
    const isContainer = c === 0x7b || c === 0x5b;
    this.capture = {
      parts: [],
      length: 0,
      start: index,
      depth: isContainer ? 1 : 0,
      inString: isString,
      escape: false,
      primitive: !isString && !isContainer,
      purpose,
    };
  }

  private finishCapture(chunk: string, endIndex: number): void {
    const capture = this.capture!;
    this.capture = undefined;
    capture.parts.push(chunk.slice(capture.start, endIndex));
    const text = capture.parts.length === 1 ? capture.parts[0]! : capture.parts.join("");
    const frame = this.stack[this.stack.length - 1]!;
    if (capture.purpose === "key") {
      frame.key = JSON.parse(text) as string;
      frame.expect = "colon";
      return;
    }
    frame.expect = "comma";
    if (capture.purpose === "row") {
      this.events.push({ kind: "row", json: text });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ExportSyntaxError(`the value of "${frame.key}" is not valid JSON`);
    }
    this.events.push({ kind: "header", key: frame.key!, value });
  }

  private structural(c: number, chunk: string, index: number): void {
    if (this.finished) this.fail(chunk, index, "nothing after the closing brace");
    const frame = this.stack[this.stack.length - 1];
    if (frame === undefined) {
      if (this.started || c !== 0x7b) this.fail(chunk, index, "{ (an export is one JSON object)");
      this.started = true;
      this.stack.push({ container: "object", expect: "key", key: undefined, role: "root", name: undefined });
      return;
    }
    const closes = frame.container === "object" ? 0x7d : 0x5d;
    if (
      c === closes &&
      (frame.expect === "comma" || frame.expect === (frame.container === "object" ? "key" : "value"))
    ) {
      this.stack.pop();
      if (frame.role === "table") this.events.push({ kind: "tableEnd", name: frame.name! });
      const parent = this.stack[this.stack.length - 1];
      if (parent === undefined) {
        this.finished = true;
        this.events.push({ kind: "end" });
      } else parent.expect = "comma";
      return;
    }
    switch (frame.expect) {
      case "comma":
        if (c !== 0x2c) this.fail(chunk, index, `, or ${String.fromCharCode(closes)}`);
        frame.expect = frame.container === "object" ? "key" : "value";
        return;
      case "colon":
        if (c !== 0x3a) this.fail(chunk, index, ":");
        frame.expect = "value";
        return;
      case "key":
        if (c !== 0x22) this.fail(chunk, index, "a key in double quotes");
        this.startCapture("key", c, index);
        return;
      case "value":
        this.value(frame, c, chunk, index);
        return;
    }
  }

  private value(frame: Frame, c: number, chunk: string, index: number): void {
    if (frame.role === "root") {
      if (frame.key !== "tables") {
        this.startCapture("header", c, index);
        return;
      }
      if (c !== 0x7b) this.fail(chunk, index, '{ (the value of "tables")');
      this.events.push({ kind: "tables" });
      this.stack.push({ container: "object", expect: "key", key: undefined, role: "tables", name: undefined });
      return;
    }
    if (frame.role === "tables") {
      if (c !== 0x5b) this.fail(chunk, index, `[ (the rows of ${frame.key})`);
      this.events.push({ kind: "table", name: frame.key! });
      this.stack.push({ container: "array", expect: "value", key: undefined, role: "table", name: frame.key });
      return;
    }
    if (c !== 0x7b) this.fail(chunk, index, "{ (a row)");
    this.startCapture("row", c, index);
  }
}
