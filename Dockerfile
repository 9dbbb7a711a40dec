# The simulated InterMail servers, one per container:
#
#   docker run --rm --network host -v $INTERMAIL:$INTERMAIL firedrill/intermail mss --root $INTERMAIL
#
# runs `python3 -m harness.servers mss --root $INTERMAIL` (SIGTERM from `docker stop` makes the
# server flush and exit 0). Build it with `make image`: that builds the wheels (docker/wheels/,
# from scripts/build-wheels) and, by default, the local base image firedrill/base:bookworm
# (scripts/build-base-image, Debian bookworm from the apt mirror; it has python3, pip and
# libdb5.3), so `docker build` itself needs no network. With a registry:
# `BASE_IMAGE=python:3.11-slim make image` (libdb5.3 then comes from apt during the build).
#
# The legacy builder is used (DOCKER_BUILDKIT=0, no buildx), with --network host.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# Berkeley DB 5.3, which the berkeleydb wheel links: already in firedrill/base; installed with
# apt (network needed) on other Debian-based images such as python:3.11-slim.
RUN set -eu; \
    if ! ldconfig -p | grep -q 'libdb-5\.3\.so'; then \
        command -v apt-get >/dev/null || { echo "no libdb-5.3.so and no apt-get" >&2; exit 1; }; \
        apt-get update -qq; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libdb5.3; \
        rm -rf /var/lib/apt/lists/*; \
    fi

# firedrill and its dependencies, only from the wheels built on the host: no index, no network.
# PIP_BREAK_SYSTEM_PACKAGES: Debian's python3 is "externally managed"; the image is ours.
COPY docker/wheels/ /tmp/wheels/
RUN set -eu; \
    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-index --find-links /tmp/wheels \
        --no-cache-dir --disable-pip-version-check --root-user-action=ignore firedrill; \
    rm -rf /tmp/wheels; \
    python3 -c 'import berkeleydb, harness.servers.mss, harness.servers.mta; print("berkeleydb", berkeleydb.__version__, "DB", berkeleydb.db.version())'

# Changing labels last keeps every layer above cached.
ARG BASE_IMAGE
ARG VERSION=unknown
ARG INPUTS_HASH=unknown
LABEL org.opencontainers.image.title="firedrill/intermail" \
      org.opencontainers.image.description="firedrill's simulated InterMail servers (python3 -m harness.servers)" \
      org.opencontainers.image.version="${VERSION}" \
      org.firedrill.base="${BASE_IMAGE}" \
      org.firedrill.inputs="${INPUTS_HASH}"

ENV PYTHONUNBUFFERED=1
STOPSIGNAL SIGTERM
ENTRYPOINT ["python3", "-m", "harness.servers"]
CMD ["--help"]
