# catchall-guard container: compile in one stage, run with production dependencies only.
#   docker build -t catchall-guard .
#   docker run -p 25:2525 -v guard-data:/data -v ./config:/app/config:ro catchall-guard

# ---- build: TypeScript → dist/ ----
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
# the `prepare` script compiles src/, which is not copied yet: compile explicitly below
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npm run build

# ---- runtime ----
FROM node:26-bookworm-slim
# the SMTP address is fixed by the environment, which wins over the file: a mounted config naming
# another server.listen cannot move the port away from `-p …:2525` and the HEALTHCHECK. The metrics
# endpoint stays off unless asked for: -e CATCHALL_GUARD_HTTP_LISTEN=0.0.0.0:9025 (README, Docker)
ENV NODE_ENV=production \
    CATCHALL_GUARD_DATA_DIR=/data \
    CATCHALL_GUARD_HOST=0.0.0.0 \
    CATCHALL_GUARD_PORT=2525
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc, which is a dev dependency and has nothing to compile here
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
# a named volume mounted on /data inherits this ownership, so the unprivileged user can write to it
RUN mkdir -p /data && chown node:node /data
USER node
# 9025 (metrics, opt-in) is not EXPOSEd: `docker run -P` would publish it on every host address,
# and it has no authentication; publish it yourself, e.g. -p 127.0.0.1:9025:9025
EXPOSE 2525
VOLUME /data
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
  CMD ["node", "dist/main.js", "probe", "--config", "/app/config/default.yaml"]
# a young generation of at most 4 MB semi-spaces keeps RSS flat under bursts (README "Speed")
CMD ["node", "--max-semi-space-size=4", "dist/main.js", "serve", "--config", "/app/config/default.yaml"]
