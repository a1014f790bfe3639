# Build the release binary, then run it as a non-root user with its SQLite file on a volume.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked --bin liaison

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/liaison --create-home liaison
WORKDIR /app
COPY --from=build /src/target/release/liaison /usr/local/bin/liaison
COPY config ./config
ENV LIAISON_LISTEN=0.0.0.0:8080 \
    LIAISON_DATABASE_URL=sqlite:///var/lib/liaison/liaison.db \
    LIAISON_LOG_FORMAT=json
VOLUME ["/var/lib/liaison"]
USER liaison
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/liaison"]
CMD ["serve"]
