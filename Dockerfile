# Sluice, and the sample upstream of the demo stack (docker-compose.yml).
#
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build stage: one stage
# installs the production dependencies, the runtime stages copy sources next to them and drop root.
#
#   docker build -t sluice .                                  # the service (last stage)
#   docker build --target upstream -t sluice-upstream .       # the sample upstream
#   npm run image                                             # the service, tagged with its version
#
# Where no registry is reachable, scripts/container-images.sh builds a local stand-in for
# node:24-bookworm-slim under that name, so this file builds unchanged (docs/containers.md).

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No install script of a production dependency is needed at run time; skipping them keeps the
# image free of build tools.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# The sample upstream needs nothing but node:http, so it carries no node_modules.
FROM node:24-bookworm-slim AS upstream
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY deploy/upstream ./deploy/upstream
USER node
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --retries=10 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/api/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "deploy/upstream/server.ts", "--host", "0.0.0.0", "--port", "8080"]

FROM node:24-bookworm-slim AS sluice
# Set by `npm run image` from package.json.
ARG VERSION=dev
LABEL org.opencontainers.image.title="sluice" \
  org.opencontainers.image.description="Rate-limit decision service for Envoy (envoy.service.ratelimit.v3)" \
  org.opencontainers.image.licenses="Apache-2.0" \
  org.opencontainers.image.version="$VERSION"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY proto ./proto
COPY deploy/policies ./deploy/policies
# A Deployment of envoyproxy/ratelimit runs `/bin/ratelimit` with its environment: the same command
# starts Sluice on that environment (bin/ratelimit), so swapping the image is enough.
RUN ln -s /app/bin/ratelimit /bin/ratelimit
# The image's own unprivileged user (uid 1000); the files stay root-owned, so the service cannot
# rewrite its code or policy.
USER node
# 8081: gRPC ShouldRateLimit and health; 9102: admin HTTP (/healthz, /readyz, /metrics).
EXPOSE 8081 9102
# Readiness on whichever admin port the environment chose (bin/healthcheck.js); the slim image has no
# curl. Docker keeps HEALTHCHECK only in its own image format (podman: --format docker).
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["node", "bin/healthcheck.js"]
ENTRYPOINT ["node", "bin/sluice.js"]
CMD ["serve", "--policy", "deploy/policies", "--grpc-addr", "0.0.0.0:8081", "--admin-addr", "0.0.0.0:9102"]
