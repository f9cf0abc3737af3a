# syntax=docker/dockerfile:1
# The deployment's images (docker-compose.yaml builds each by its target):
#   pgbouncer  Debian's PgBouncer (the package the tests run), configured at start by
#              scripts/pgbouncer-config.sh from the environment
#   api        the GraphQL server: official Node 24 image, production dependencies, non-root
#   backup     api + the PostgreSQL 18 client tools (pg_dump/pg_restore from apt.postgresql.org)
#              for `npm run db:backup` / `db:restore`
# The last stage is the API, so a plain `docker build .` produces it.

FROM debian:bookworm-slim AS pgbouncer
RUN apt-get update \
 && apt-get install -y --no-install-recommends pgbouncer \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin pgbouncer
COPY scripts/pgbouncer-config.sh /usr/local/bin/pgbouncer-config.sh
# PgBouncer refuses to run as root.
USER pgbouncer
EXPOSE 6432
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/6432"]
CMD ["bash", "-c", "pgbouncer-config.sh /tmp/pgbouncer && exec pgbouncer /tmp/pgbouncer/pgbouncer.ini"]

FROM node:24-bookworm-slim AS api
ENV NODE_ENV=production GRAPHILE_ENV=production HOST=0.0.0.0 PORT=5678
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY .gmrc tsconfig.json ./
COPY migrations ./migrations
COPY src ./src
# Trusted documents: in production only the operations registered here run.
COPY documents ./documents
USER node
EXPOSE 5678
# Liveness only (the process answers); compose checks /readyz (database and migrations) too.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node as PID 1 receives SIGTERM from `docker stop` and drains (SHUTDOWN_TIMEOUT_MS) before exiting 0.
CMD ["node", "src/main.ts"]

FROM api AS backup
USER root
# pg_dump must be at least the server's major version: PostgreSQL 18's client tools, from PGDG.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && . /etc/os-release \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-18 \
 && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
 && install -d -o node -g node -m 700 /backups
ENV BACKUP_DIR=/backups PG_BIN_DIR=/usr/lib/postgresql/18/bin
USER node
HEALTHCHECK NONE
CMD ["node", "src/cli/backup.ts", "full", "--daily-at", "02:00"]

FROM api
