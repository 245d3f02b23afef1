# Ferry daemon image. Build: docker build -t ferry .
# Run:  docker run -v /etc/ferry:/etc/ferry:ro -v ferry-data:/var/lib/ferry ferry
# The mounted config's ferry.yaml should set `dataDir: /var/lib/ferry` and `extractsDir: /app/extracts` (or its own).

FROM node:22-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 and ssh2's optional cpu-features build natively when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY connectors ./connectors
COPY migrations ./migrations
COPY bench ./bench
COPY test/helpers ./test/helpers
# npm ci runs `prepare`, which compiles TypeScript into dist/. The lockfile was made against a registry that serves
# only some of rollup's optional platform packages; where npm ci refuses it, npm install follows the same pins.
RUN (npm ci || npm install --no-audit --no-fund) && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY extracts ./extracts
RUN mkdir -p /var/lib/ferry /etc/ferry && chown node:node /var/lib/ferry \
 && ln -s /app/dist/src/cli/main.js /usr/local/bin/ferry && chmod +x /app/dist/src/cli/main.js
USER node
VOLUME ["/var/lib/ferry"]
ENV FERRY_CONFIG=/etc/ferry
# /healthz stays on the container's loopback (http.host 127.0.0.1); the check runs inside the container.
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9750/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/daemon/main.js"]
CMD ["--config", "/etc/ferry"]
