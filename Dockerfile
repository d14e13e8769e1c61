# One image for every role; the command picks it:
#   kith serve --host 0.0.0.0 --port 8000 [--no-scheduler]   API + web reader (the default)
#   kith scheduler                                           enqueues due sources and ranking
#   kith worker --concurrency 4 --metrics-port 9100          runs tasks from Redis
# See docs/scaling.md and compose.yaml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # the embedded default (one container, SQLite) keeps its database in /data;
    # compose sets KITH_DATABASE_URL to PostgreSQL instead
    KITH_DATABASE_URL=sqlite:////data/kith.db

RUN useradd --create-home --uid 10001 --user-group kith \
    && mkdir /data && chown kith:kith /data

WORKDIR /opt/kith

# the dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes
COPY pyproject.toml README.md ./
RUN python -c "import subprocess, sys, tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', *deps])"

# Then Kith itself. Installed in place (-e): the migrations in alembic/ are found next
# to the app/ package (app/db.py), and a regular wheel would not carry them.
COPY . .
RUN pip install --no-deps -e . && kith --help >/dev/null

USER kith
EXPOSE 8000

# slim images have no curl: ask the health endpoint with Python
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4)"]

CMD ["kith", "serve", "--host", "0.0.0.0", "--port", "8000"]
