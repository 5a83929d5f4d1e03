# syntax=docker/dockerfile:1
# Build: docker build -t kaffeekasse .
# Run:   docker run -p 8080:8080 -v kaffeekasse:/data --env-file .env kaffeekasse

FROM rust:1-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
# Bump the mtimes so cargo rebuilds our crate, not the cached stub.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
# No packages needed: TLS to Stripe uses rustls with the webpki roots compiled in.
RUN groupadd --system --gid 10001 kaffeekasse \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin kaffeekasse \
    && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /src/target/release/kaffeekasse /usr/local/bin/kaffeekasse
USER 10001:10001
VOLUME ["/data"]
# Production: Stripe keys and an https PUBLIC_URL are required, the demo checkout refused.
ENV APP_ENV=production \
    DATABASE_URL=sqlite:///data/kaffeekasse.db \
    BIND_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json
EXPOSE 8080
# No curl in the image: the binary checks itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["kaffeekasse", "healthcheck"]
STOPSIGNAL SIGTERM
CMD ["kaffeekasse", "serve"]
