# paddlex-webhook container image.
#   docker build -t paddlex-webhook:latest .
# Two stages: the build tools and -dev headers stay in the builder; the
# runtime image holds the binary and the shared libraries it links, nothing
# else (no compiler, no shell tools beyond what debian-slim ships).

FROM debian:bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config \
      libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libyaml-dev \
      libssl-dev libgnutls28-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .dockerignore keeps host build output out, so this is a clean build. The
# debug info (-g) is stripped: the image ships no debugger.
RUN make -j"$(nproc)" \
 && strip --strip-unneeded bin/paddlex-webhook

FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
# The runtime halves of the -dev packages above. libgnutls30 (libmicrohttpd's
# TLS) is named too because the binary links GnuTLS directly.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libcurl4 libyaml-0-2 libssl3 libgnutls30 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/bin/paddlex-webhook /usr/local/bin/paddlex-webhook
# Numeric user (the "nonroot" uid): runAsNonRoot can check it without
# /etc/passwd, and it matches the manifests' runAsUser/runAsGroup.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/paddlex-webhook"]
# Certificates are expected at /certs (the manifests mount Secret
# paddlex-webhook-tls there); the Deployment adds --policy.
CMD ["serve", "--listen", "0.0.0.0:8443", "--tls-cert", "/certs/tls.crt", "--tls-key", "/certs/tls.key"]
