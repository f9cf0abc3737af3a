// PostgreSQL WAL positions (pg_lsn, written "16/B374D848") as comparable numbers, and the header
// that carries a client's last write position between requests.

/** A WAL position: the 64-bit byte offset PostgreSQL prints as two hexadecimal halves. */
export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i;

/** The position in PostgreSQL's text form, or undefined when the text is not one. */
export function parseLsn(text: string | null | undefined): Lsn | undefined {
  if (text === null || text === undefined) return undefined;
  const match = LSN_TEXT.exec(text.trim());
  if (!match) return undefined;
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function maxLsn(a: Lsn | undefined, b: Lsn | undefined): Lsn | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/**
 * Sent on every response to a GraphQL mutation when replicas are configured: the primary's WAL
 * position after the write committed. A client that sends it back on its next requests reads
 * its own write whichever API instance serves them (a replica that has not replayed that far
 * is not used for it).
 */
export const WRITE_POSITION_HEADER = "x-prospectflow-lsn";
