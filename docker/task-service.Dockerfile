# syntax=docker/dockerfile:1
# task-service image. Build from the repository root:
#   docker build -f docker/task-service.Dockerfile -t task-service .
# Stages: chef (tooling) -> planner (dependency recipe) -> builder (dependencies cached in their
# own layer, then the crate) -> distroless runtime as a non-root user.

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
# aws-lc-sys and ring build their C with the cc crate: the image's gcc is enough (no cmake, no
# clang: bindings for x86_64 and aarch64 Linux are pre-generated).
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
# Only the dependencies: this layer is reused until Cargo.toml/Cargo.lock change.
RUN cargo chef cook --release --locked --recipe-path recipe.json --package task-service
COPY . .
# Compile-time-checked queries, if any, use the committed .sqlx data: no database at build time.
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked --package task-service \
    && cp target/release/task-service /usr/local/bin/task-service

# distroless/cc: glibc, libgcc, CA certificates and nothing else (no shell, no package manager).
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /usr/local/bin/task-service /usr/local/bin/task-service
ENV TASK_SERVICE_BIND=0.0.0.0:8082
EXPOSE 8082
# 65532 is distroless's `nonroot` user.
USER 65532:65532
# No shell or curl here: the binary probes its own /readyz and exits 0 or 1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/task-service", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/task-service"]
