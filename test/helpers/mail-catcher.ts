// A real SMTP server in the test process (the `smtp-server` package): the mailer under test
// delivers to it over TCP, and tests read what arrived (recipient, subject, Message-ID, text, the
// link and its token). `beforeAccept` runs after a message's data arrived and before the server
// answers 250: the moment to kill a mailer "between send and mark".
import { createServer, type AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface CaughtMail {
  to: string;
  subject: string;
  messageId: string;
  kind: string;
  text: string;
  html: string;
  link: string | undefined;
  token: string | undefined;
}

export interface MailCatcher {
  port: number;
  url: string;
  messages: CaughtMail[];
  /** The first message (already arrived or arriving within timeoutMs) that matches. */
  waitFor(predicate: (mail: CaughtMail) => boolean, timeoutMs?: number): Promise<CaughtMail>;
  close(): Promise<void>;
}

export interface MailCatcherOptions {
  port?: number;
  beforeAccept?: (mail: CaughtMail) => Promise<void> | void;
}

/** A TCP port that was free a moment ago (for a server started later, "SMTP down" first). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export async function startMailCatcher(options: MailCatcherOptions = {}): Promise<MailCatcher> {
  const messages: CaughtMail[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const mail = parseMail(Buffer.concat(chunks).toString("utf8"));
        messages.push(mail);
        for (const wake of waiters) wake();
        Promise.resolve(options.beforeAccept?.(mail)).then(
          () => callback(),
          (error: Error) => callback(error),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(predicate);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching mail within ${timeoutMs} ms (got ${messages.length})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 200));
          const wake = () => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function headersOf(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

function decodeWords(value: string): string {
  return value.replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_, encoding: string, text: string) =>
    encoding.toLowerCase() === "b"
      ? Buffer.from(text, "base64").toString("utf8")
      : Buffer.from(decodeQuotedPrintable(text.replace(/_/g, " ")), "latin1").toString("utf8"),
  );
}

function decodeQuotedPrintable(text: string): string {
  return text
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function decodeBody(headers: Map<string, string>, body: string): string {
  const encoding = (headers.get("content-transfer-encoding") ?? "").toLowerCase();
  if (encoding === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (encoding === "quoted-printable") return Buffer.from(decodeQuotedPrintable(body), "latin1").toString("utf8");
  return body;
}

function parseMail(raw: string): CaughtMail {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = headersOf(raw.slice(0, split));
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, "");
  const parts: Array<{ type: string; text: string }> = [];
  const boundary = /boundary="?([^";]+)"?/i.exec(headers.get("content-type") ?? "")?.[1];
  if (boundary) {
    for (const part of body.split(`--${boundary}`).slice(1)) {
      if (part.startsWith("--")) break;
      const partSplit = part.search(/\r?\n\r?\n/);
      const partHeaders = headersOf(part.slice(0, partSplit));
      parts.push({
        type: (partHeaders.get("content-type") ?? "").split(";")[0]!.trim(),
        text: decodeBody(partHeaders, part.slice(partSplit).replace(/^\r?\n\r?\n/, "")),
      });
    }
  } else {
    parts.push({ type: (headers.get("content-type") ?? "text/plain").split(";")[0]!, text: decodeBody(headers, body) });
  }
  const text = parts.find((p) => p.type === "text/plain")?.text ?? "";
  const html = parts.find((p) => p.type === "text/html")?.text ?? "";
  const link = /(https?:\/\/\S+)/.exec(text)?.[1];
  return {
    to: headers.get("to") ?? "",
    subject: decodeWords(headers.get("subject") ?? ""),
    messageId: headers.get("message-id") ?? "",
    kind: headers.get("x-prospectflow-kind") ?? "",
    text,
    html,
    link,
    token: link ? (new URL(link).searchParams.get("token") ?? undefined) : undefined,
  };
}
