# acd, the routing service. Build: docker build -t acd .   (or through docker-compose.yml)
# Run:  docker run -v $PWD/acd.toml:/etc/acd/acd.toml:ro -e ACD_AMI_SECRET=... -p 8080:8080 acd
# The config must listen on http.host = "0.0.0.0", port 8080 (the HEALTHCHECK asks there).

# --- build: wheels for the package and its dependencies ----------------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY acd ./acd
RUN pip wheel --wheel-dir /wheels .

# --- runtime -----------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels acd \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin acd \
    && mkdir -p /etc/acd
USER acd:acd
EXPOSE 8080
# slim has no curl: ask /healthz with Python's standard library (exit 1 on any error).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
# JSON log lines on stderr: `docker logs acd 2>&1 | grep <call id>` follows one call.
ENTRYPOINT ["acd", "--log-json"]
CMD ["run", "-c", "/etc/acd/acd.toml"]
