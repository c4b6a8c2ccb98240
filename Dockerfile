# Sluice, and the sample upstream of the demo stack (docker-compose.yml).
#
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build stage: one stage
# installs the production dependencies, the runtime stages copy sources next to them and drop root.
#
#   docker build -t sluice .                                  # the service (last stage)
#   docker build --target upstream -t sluice-upstream .       # the sample upstream

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
CMD ["node", "deploy/upstream/server.ts", "--host", "0.0.0.0", "--port", "8080"]

FROM node:24-bookworm-slim AS sluice
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY proto ./proto
COPY deploy/policies ./deploy/policies
# The image's own unprivileged user (uid 1000); the files stay root-owned, so the service cannot
# rewrite its code or policy.
USER node
# 8081: gRPC ShouldRateLimit and health; 9102: admin HTTP (/healthz, /readyz, /metrics).
EXPOSE 8081 9102
ENTRYPOINT ["node", "bin/sluice.js"]
CMD ["serve", "--policy", "deploy/policies", "--grpc-addr", "0.0.0.0:8081", "--admin-addr", "0.0.0.0:9102"]
