# syntax=docker/dockerfile:1
#
# labops: one image, three roles (web, worker, watcher) picked by LABOPS_ROLE.
# test/integration/production-build.test.ts builds dist/ the same way, lays it
# out as below and starts the very ENTRYPOINT, so what this image runs is what
# CI built and tested.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: full install (TypeScript is a devDependency), tsc to dist/
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the only one in the tree (msgpackr-extract) ships prebuilt
# binaries as optional packages, and skipping scripts keeps the build hermetic.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY app ./app
COPY src ./src
COPY jobs ./jobs
COPY adapters ./adapters
RUN npm run build

# --- deps: production dependencies only, resolved from the same lockfile
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime
FROM ${NODE_IMAGE} AS runtime
# npm and corepack are not needed to run the bot; removing them takes their
# own dependencies out of the image and out of its vulnerability reports.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
ENV NODE_ENV=production \
    LABOPS_ROLE=all \
    PORT=3978
WORKDIR /app
# Everything is owned by root and read-only for the bot's user: the app cannot
# rewrite itself, and the root filesystem can be mounted read-only.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# src/labs/manifests.ts reads the lab manifests at run time, three levels up
# from dist/src/labs: /app/infra/lab.
COPY infra/lab ./infra/lab
# The base image's "node" user, by number so that runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 3978
# Only the web role listens today; worker and watcher answer once they serve
# /healthz too (see infra/deploy/README.md). Node has fetch built in; the slim
# image has no curl.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3978)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node runs as PID 1 without an init: app/main.ts handles SIGTERM and SIGINT
# itself (stop taking work, drain, exit 0) and the bot starts no child
# processes, so there are no zombies to reap. Add `docker run --init` (tini)
# if that ever changes.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/app/main.js"]
