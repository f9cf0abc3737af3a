// Each GraphQL request's transaction, opened in one round trip: `begin` and the request's settings
// (role, tenant, user, session, statement timeout) sent together as one simple-protocol query,
// where PostGraphile's own adaptor (makePgAdaptorWithPgClient) sends `begin`, waits, then sends
// the settings as a second query and waits again. Everything else is the adaptor's: the queries
// run through its client (prepared statements, notices, savepoints for nested transactions),
// then `commit` (or `rollback` on any error) before the connection goes back to the pool.
//
// The settings are inlined as literals (the simple protocol has no parameters): their names are
// the server's own constants, their values the server's constants and the verified token's ids,
// all quoted with node-postgres's escapeLiteral. Measured in docs/PERFORMANCE.md ("round trips").
import type pg from "pg";
import type { WithPgClient } from "postgraphile/@dataplan/pg";
import { makeWithPgClientViaPgClientAlreadyInTransaction, type NodePostgresPgClient } from "postgraphile/adaptors/pg";

/** Connections that have had @dataplan/pg's once-per-connection setting (JIT optimisation off). */
const configured = new WeakSet<pg.PoolClient>();

/** The statements that open a request's transaction with these settings (and set up a new connection). */
export function openingStatements(
  client: Pick<pg.PoolClient, "escapeLiteral">,
  settings: Array<[string, string]>,
  newConnection: boolean,
): string {
  // As @dataplan/pg does on every new connection: JIT compilation stays on, its costly
  // optimisation pass off (DATAPLAN_PG_DONT_DISABLE_JIT=1 keeps PostgreSQL's default).
  const setup =
    newConnection && process.env.DATAPLAN_PG_DONT_DISABLE_JIT !== "1" ? "set jit_optimize_above_cost = -1; " : "";
  const calls = settings.map(
    ([name, value]) => `set_config(${client.escapeLiteral(name)}, ${client.escapeLiteral(value)}, true)`,
  );
  return `${setup}begin; select ${calls.join(", ")}`;
}

/** A `withPgClient` for PostGraphile's context over this pool, one round trip shorter per request. */
export function makeRequestWithPgClient(pool: pg.Pool): WithPgClient<NodePostgresPgClient> {
  return async (pgSettings, callback) => {
    const settings = Object.entries(pgSettings ?? {}).flatMap(([name, value]): Array<[string, string]> =>
      value == null ? [] : [[name, String(value)]],
    );
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      if (settings.length === 0) {
        // No settings, no transaction (as the adaptor does): each statement commits by itself.
        return await makeWithPgClientViaPgClientAlreadyInTransaction(client, false)(null, callback);
      }
      const newConnection = !configured.has(client);
      try {
        await client.query(openingStatements(client, settings, newConnection));
        if (newConnection) configured.add(client);
        const result = await makeWithPgClientViaPgClientAlreadyInTransaction(client, true)(null, callback);
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch((rollbackError: unknown) => {
          // The connection is broken: released with the error, the pool closes it.
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
        throw error;
      }
    } finally {
      client.release(broken);
    }
  };
}
