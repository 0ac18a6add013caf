# salesbi application image (used by the app and etl services in docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NUMBA_CACHE_DIR=/app/var/numba

WORKDIR /app
COPY . /app
# Editable install so the top-level assets/ and sql/ folders are found next to the packages.
RUN pip install -e . \
    && useradd --create-home --uid 10001 salesbi \
    && mkdir -p /app/var \
    && chown -R salesbi:salesbi /app/var

USER salesbi
EXPOSE 8050
CMD ["salesbi", "serve", "--prod", "--host", "0.0.0.0", "--port", "8050"]
