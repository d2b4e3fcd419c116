# syntax=docker/dockerfile:1
# shardfleet image: `docker build -t shardfleet .` The entry point is the CLI: bin/shardfleet.js
# runs the JavaScript compiled in the build stage (dist/); the image holds no TypeScript sources.
#   docker run --rm shardfleet serve router --help

ARG NODE_VERSION=20

# Build stage: install every dependency (native modules such as better-sqlite3 build from source
# when no prebuilt binary matches), compile src/ to dist/ (`npm run build`: TypeScript is a dev
# dependency), then drop the dev dependencies. `npm ci` runs the `prepare` script, which skips the
# build here because src/ is copied after it (so the dependency layer is cached across source edits).
FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# Runtime stage: Node LTS slim, non-root.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 shardfleet \
 && useradd --system --uid 10001 --gid shardfleet --home-dir /app --shell /usr/sbin/nologin shardfleet
WORKDIR /app
ENV NODE_ENV=production \
    SHARDFLEET_CACHE_DIR=/var/cache/shardfleet
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json package-lock.json ./
COPY --chown=root:root bin ./bin
COPY --chown=root:root proto ./proto
# The compiled CLI must start (a missing dist/ would make bin/shardfleet.js fall back to tsx on
# sources that are not in the image).
RUN mkdir -p /var/cache/shardfleet && chown shardfleet:shardfleet /var/cache/shardfleet \
 && node bin/shardfleet.js --version
USER 10001:10001
# gRPC: router 7000, shard node 7001; Prometheus metrics (when --metrics-listen is set) 9464.
EXPOSE 7000 7001 9464
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/shardfleet.js"]
CMD ["--help"]
