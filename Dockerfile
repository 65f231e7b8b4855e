# syntax=docker/dockerfile:1
#
# One image per app, from one Dockerfile:
#   docker build --build-arg APP=gateway  --build-arg PORT=8080 -t runyard/gateway  .
#   docker build --build-arg APP=sessions --build-arg PORT=8081 -t runyard/sessions .
# APP is a folder under apps/ whose build emits dist/main.js (the service) and dist/migrate.js
# (its schema migrations, run as a separate one-shot step with `node apps/<app>/dist/migrate.js`).
# PORT is the default HTTP port (API and/or /healthz, /readyz); the runtime environment may override it.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
# The lockfile is written by npm 11 (node 20 ships npm 10); install with the same major.
ARG NPM_VERSION=11.19.1
RUN npm install --global --no-audit --no-fund "npm@${NPM_VERSION}" && npm cache clean --force
WORKDIR /app

# Workspace manifests only, paths kept. This stage re-runs on any source change, but its output
# changes only with dependencies, so the install layers below stay cached across code edits.
FROM base AS manifests
COPY . /src
RUN cd /src \
 && mkdir -p /manifests \
 && cp package.json package-lock.json /manifests/ \
 && find apps libs -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /manifests/ \;

FROM base AS build
COPY --from=manifests /manifests ./
# Not `npm ci`: the lockfile made on the dev machines lacks other platforms' optional binaries
# (see STACK-NOTES); `npm install` still follows it.
RUN --mount=type=cache,target=/root/.npm npm install --no-audit --no-fund
COPY tsconfig.base.json tsconfig.build.json ./
COPY libs ./libs
COPY apps ./apps
ARG APP
# Builds the app and only the libs it references, then gathers their dist folders (paths kept)
# into /out so the runtime stage gets compiled code and nothing else.
RUN if [ -z "${APP}" ] || [ ! -f "apps/${APP}/tsconfig.lib.json" ]; then \
      echo "build with --build-arg APP=<a folder under apps/> (got '${APP}')" >&2; exit 1; \
    fi \
 && npx tsc -b "apps/${APP}/tsconfig.lib.json" \
 && test -f "apps/${APP}/dist/main.js" \
 && mkdir /out \
 && for dir in libs/*/dist "apps/${APP}/dist"; do \
      if [ -d "$dir" ]; then cp -a --parents "$dir" /out/; fi; \
    done \
 && find /out \( -name '*.tsbuildinfo' -o -name '*.d.ts' -o -name '*.d.ts.map' \) -delete

FROM base AS runtime
ENV NODE_ENV=production
# Production dependencies only. Shared by every app image (nothing above depends on APP).
COPY --from=manifests /manifests ./
RUN --mount=type=cache,target=/root/.npm npm install --omit=dev --no-audit --no-fund
ARG APP
ARG PORT=8080
ENV APP=${APP} \
    PORT=${PORT} \
    NODE_OPTIONS=--enable-source-maps
COPY --from=build /out ./
# A fixed entry path lets CMD stay in exec form (node is PID 1 and receives SIGTERM directly);
# node resolves the link, so the app's own package.json ("type": "module") applies.
RUN ln -s "apps/${APP}/dist/main.js" /app/main.js
LABEL org.opencontainers.image.title="runyard-${APP}" \
      org.opencontainers.image.description="Runyard ${APP} service" \
      org.opencontainers.image.licenses="Apache-2.0"
# The `node` user of the base image, numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE ${PORT}
STOPSIGNAL SIGTERM
# No curl in slim images: probe with node's fetch, on whatever PORT the container runs with.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz', { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "main.js"]
