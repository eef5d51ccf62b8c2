# syntax=docker/dockerfile:1
#
# lagtrail in a container: a static binary (CGO off) built with the Go
# toolchain, alone in a distroless image that runs as a non-root user. The
# image has CA certificates (for the Alibaba Cloud API over HTTPS) and time
# zone data, and no shell.
#
#   docker build -t lagtrail .
#   docker run --rm -e LAGTRAIL_DATABASE_URL=postgres://... lagtrail migrate up
#
# docker-compose.yml runs it next to PostgreSQL and Grafana.

# The build runs on the builder's platform and cross-compiles, so that a
# multi-platform build (docker buildx build --platform linux/amd64,linux/arm64)
# does not emulate the compiler.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags='-s -w' -o /out/lagtrail ./cmd/lagtrail
# The recorder's data_dir (its spool), owned by the runtime user, so that a
# volume mounted there starts out writable.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/lagtrail /usr/local/bin/lagtrail
COPY --from=build --chown=65532:65532 /out/data /var/lib/lagtrail
# nonroot is uid and gid 65532 in the distroless images.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/lagtrail"]
CMD ["--help"]
