# driftaudit: the worker (`driftaudit worker`), the API (`driftaudit api`) and the simulated fleet (`driftaudit sim`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 driftaudit \
    && useradd --system --uid 10001 --gid driftaudit --create-home --home-dir /home/driftaudit driftaudit \
    && mkdir -p /fleet \
    && chown driftaudit:driftaudit /fleet

WORKDIR /build
COPY pyproject.toml setup.py README.md ./
COPY src ./src
# a C compiler for the analysis hot path (setup.py compiles it with mypyc), removed once it is built
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/* /build

USER driftaudit
WORKDIR /home/driftaudit
EXPOSE 6066 8080
ENTRYPOINT ["driftaudit"]
CMD ["--help"]
