# Builds license-manager from this repository; used by docker-compose.yml.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin license-manager

FROM debian:bookworm-slim
# ca-certificates: TLS to Microsoft Graph; curl: the container health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data --uid 10001 license-manager \
    && mkdir -p /data && chown license-manager /data
COPY --from=build /src/target/release/license-manager /usr/local/bin/license-manager
USER license-manager
ENV LM_DATA_DIR=/data LM_LISTEN=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["license-manager"]
CMD ["serve"]
