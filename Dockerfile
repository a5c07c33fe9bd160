# The production image: gunicorn serving matchpal.wsgi; the same image runs the Celery worker
# and beat (see docker-compose.yml).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=matchpal.settings \
    MATCHPAL_VAR_DIR=/app/var

RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /app

# Dependencies first, from the lock file alone, so code changes reuse this layer.
COPY pyproject.toml uv.lock ./
# The optional extras too (Sentry, S3 storage): each is used only when its variable is set.
RUN uv sync --frozen --no-dev --all-extras --no-install-project --python /usr/local/bin/python3.12

COPY . .

# Hashed, compressed static files for WhiteNoise. Settings need a key to import; this one is
# used only by this build step.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin matchpal \
    && mkdir -p /app/var/exports \
    && chown -R matchpal:matchpal /app/var
USER matchpal

# gunicorn binds 0.0.0.0:$PORT and starts $WEB_CONCURRENCY processes. No access log of its own:
# the app writes one JSON line per request (docs/deploy.md, "Logs").
ENV PORT=8000 WEB_CONCURRENCY=3
EXPOSE 8000
CMD ["gunicorn", "matchpal.wsgi:application", "--timeout", "60"]
