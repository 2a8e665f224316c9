# syntax=docker/dockerfile:1
# Build: the release binary. Swagger UI's assets are compiled into it, so it is all the
# runtime image needs.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p server \
    && cp target/release/server /server

# Run: a small Debian with CA certificates (for S3, CloudFront, OIDC providers, Aligo),
# as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311+deb12u1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home app
COPY --from=build /server /usr/local/bin/server
USER 10001:10001
WORKDIR /data
ENV BIND_ADDR=0.0.0.0:8080 \
    DATA_DIR=/data \
    APP_ENV=production
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/server"]
CMD ["serve"]
