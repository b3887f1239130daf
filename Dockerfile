# healthgate's image: healthgate in front of the bundled demo WebSocket echo app.
# Deployed as it is (Railway, a pod, `docker run -p 8080:8080`), it answers GET /health and
# echoes WebSocket messages on $PORT (8080 by default).
# An app image needs three things, and nothing else: node, /app/healthgate.cjs and tini
# (docs/recipes.md: three lines in any Dockerfile; docs/examples/*/Dockerfile build them from
# this repository's source). test/shipping/image.test.ts builds and runs this file with podman.

# Node 26: the Active LTS line (since 2026-10-28), supported until 2029-04-30; CI also tests 22
# and 24 (engines >=22). Node 20 reached end of life on 2026-04-30.
# Build stage: the README's build steps, with the dev dependencies (TypeScript, esbuild).
FROM node:26-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# Final stage: node, tini and two files. npm, npx, corepack and yarn are removed: nothing here
# installs packages at run time.
FROM node:26-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
COPY --from=build /src/dist/healthgate.cjs /src/dist/demo.cjs /app/
# The node image's unprivileged user (uid 1000); healthgate needs no privilege on a port >= 1024.
USER node
ENV NODE_ENV=production PORT=8080
EXPOSE 8080
# tini is PID 1: it forwards signals to healthgate and reaps orphaned grandchildren of the app.
# --max-semi-space-size=2: V8's young generation otherwise grows to 16 MB per semi-space after a
# burst of connections and keeps it, about 4 KB of RSS per open connection (docs/performance.md).
ENTRYPOINT ["tini", "--", "node", "--max-semi-space-size=2", "/app/healthgate.cjs"]
# The default backend: the demo echo app on port 8081 (healthgate sets its PORT to 8081).
CMD ["--backend-port", "8081", "--", "node", "/app/demo.cjs"]
