# The event store server image: `lockfree-eventstore serve` on 0.0.0.0:7070, data in the /data volume.
#   docker build -t lockfree-eventstore .
#   docker run -p 7070:7070 -v lfes-data:/data lockfree-eventstore
# Used by samples/gateway/docker-compose.yml as the `eventstore` service.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs the sources, copied below.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
RUN mkdir /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 7070
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7070/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Same as `lockfree-eventstore serve …` (the package's bin); SIGTERM drains and writes a final snapshot.
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "7070", "--data-dir", "/data"]
