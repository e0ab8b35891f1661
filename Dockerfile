# syntax=docker/dockerfile:1
# prepull: the CLI and the node agent. Node 24 runs the TypeScript sources directly (type
# stripping), so the image is the sources plus production dependencies, no build output.

FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production dependencies only; no install scripts are needed by any of them.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM gcr.io/distroless/nodejs24-debian12
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="prepull" \
      org.opencontainers.image.description="Node-side image pre-puller for Kubernetes: keeps declared images warm, by digest, under the names pods use, through the CRI." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/prepull/prepull"
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY proto ./proto
COPY src ./src
COPY scripts/compile-cache.ts ./scripts/
# A small young generation keeps the agent's resident memory down (see BENCHMARKS.md). So do the
# allocator's settings: after a warm, glibc kept the warm's peak in per-thread arenas and in
# chunks it never gave back; two arenas, allocations of 32 KiB and more in their own mappings
# (returned when freed), and trimming the heap's top from 64 KiB bring the agent at rest after
# warming 1,000 entries from about 141 MB to about 121 MB (bench/memory-at-rest.ts). The
# compile cache is filled below, at build time: the root filesystem is read-only in the DaemonSet,
# and a cache that starts empty in every new pod would make every first start strip and compile
# every module again.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=1" \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=32768 \
    MALLOC_TRIM_THRESHOLD_=65536 \
    NODE_COMPILE_CACHE=/app/compile-cache
# Root, because the CRI socket is root:root 0660 on containerd and CRI-O, and opening it is all
# the agent needs: the manifests drop every capability, forbid privilege escalation and mount the
# root filesystem read-only. Where the socket's group is known (for example a runtime configured
# with a socket gid), run as any uid with that group as a supplemental group instead; commands
# that do not touch the socket (plan, lock, pin, wait) run as any user.
USER 0:0
# Node keys its cache by its version, the V8 flags that affect code, and the uid: built here
# with the same Node, NODE_OPTIONS and uid as the agent runs with. A process with other flags or
# another uid finds no entries and compiles as it would without a cache.
RUN ["/nodejs/bin/node", "/app/scripts/compile-cache.ts"]
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/prepull.js"]
CMD ["agent", "--config", "/etc/prepull/imagesets"]
