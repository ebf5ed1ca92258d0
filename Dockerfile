# chamilo-sync in a container: mount your config folder at /config.
#   docker build -t chamilo-sync .
#   docker run --rm -v /etc/chamilo-sync:/config -e CHAMILO_SECURITY_KEY chamilo-sync plan
#   docker run -d -v /etc/chamilo-sync:/config -e CHAMILO_SECURITY_KEY chamilo-sync schedule
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CHAMILO_SYNC_CONFIG=/config/chamilo-sync.toml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY sync ./sync
COPY mappings ./mappings
RUN pip install --no-cache-dir ".[postgres]" \
 && useradd --system --home-dir /config --shell /usr/sbin/nologin chamilo-sync

USER chamilo-sync
WORKDIR /config
ENTRYPOINT ["chamilo-sync"]
CMD ["--help"]
