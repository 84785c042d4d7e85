# The netcontract tool image: netcontract where Python is not wanted.
#
#   docker build -t netcontract .
#   docker run --rm --pid host -v /var/run/docker.sock:/var/run/docker.sock \
#       --cap-drop ALL --cap-add SYS_ADMIN --cap-add SYS_PTRACE --cap-add NET_RAW \
#       -v "$PWD:/work" -w /work netcontract check -c netcontract.yaml
#
# --pid host and the engine's socket let the netns executor enter the containers' network namespaces;
# the three capabilities are the least it needs (measured: docs/security.md, "The tool image"). Without
# them `--executor auto` falls back to exec and sidecar probes through the socket and says so in a note.
#
# BASE: any Debian-like image with python3 (>= 3.11) and its venv module. The tests build one from
# Debian packages (scripts/build-tool-image.sh: no registry there) and pass it here, with the wheels
# of netcontract and its dependencies in the build context (PIP_ARGS, NETCONTRACT).
ARG BASE=python:3.11-slim
FROM ${BASE}

ARG PIP_ARGS=""
ARG NETCONTRACT=/src
COPY . /src
RUN python3 -m venv /opt/netcontract \
    && /opt/netcontract/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_ARGS} ${NETCONTRACT} \
    && rm -rf /src \
    && /opt/netcontract/bin/netcontract --version

ENV PATH=/opt/netcontract/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
LABEL org.opencontainers.image.title="netcontract" \
      org.opencontainers.image.description="Check a live Docker deployment against a declared network contract" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /work
ENTRYPOINT ["netcontract"]
CMD ["--help"]
