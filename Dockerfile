# The API image: official Node 24, production dependencies only, runs as the unprivileged node user.
FROM node:24-slim
ENV NODE_ENV=production GRAPHILE_ENV=production HOST=0.0.0.0 PORT=5678
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY .gmrc tsconfig.json ./
COPY migrations ./migrations
COPY src ./src
USER node
EXPOSE 5678
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "src/main.ts"]
