# Image of every Airflow component of the Baltic Sea Impact Network pipeline
# (api-server, scheduler, dag-processor, triggerer, Celery workers): the `runtime` stage,
# runtime requirements only. The `local-tools` stage adds what the local Forms emulator and
# SMTP sink need (docker-compose's `local` profile). A scaled-out worker on another host
# runs the runtime image.
FROM apache/airflow:3.3.2-python3.11 AS runtime

# The pinned project requirements, resolved for Airflow 3.3.2 (`make lock`). Installing
# apache-airflow at the image's own version alongside keeps pip from moving Airflow itself.
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt

# The runtime package, installed like any other package: only plugins/bsin; the
# development tooling in dev/ never enters this stage.
COPY --chown=airflow:0 pyproject.toml /opt/airflow/src/pyproject.toml
COPY --chown=airflow:0 plugins/bsin /opt/airflow/src/plugins/bsin
RUN pip install --no-cache-dir --no-deps /opt/airflow/src

# DAG files, the Airflow plugin (timetable) and config/SQL/templates, so that the image runs
# without bind mounts (a worker on another host). docker-compose.yaml mounts the working
# tree over these folders for development; the installed package is what tasks import.
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins/bsin_airflow_plugin.py plugins/.airflowignore /opt/airflow/plugins/
COPY --chown=airflow:0 include /opt/airflow/include

# bsin.core.paths finds include/ relative to the project root.
ENV BSIN_PROJECT_ROOT=/opt/airflow

# The dbt manifest the monthly DAG renders its Cosmos task group from, parsed at build time
# outside include/ (docker-compose mounts include/ read-only); a changed project is
# re-parsed into the same folder by the DAG processor.
ENV BSIN_DBT_TARGET_DIR=/opt/airflow/dbt-target
RUN python -m bsin.warehouse.dbt_project parse

FROM runtime AS local-tools
# Local stand-ins only (never deployed): the SMTP sink needs aiosmtpd, a development
# requirement pinned by the development lock.
COPY requirements-dev.txt /requirements-dev.txt
RUN pip install --no-cache-dir -c /requirements-dev.txt aiosmtpd
COPY --chown=airflow:0 dev /opt/airflow/dev-src
RUN pip install --no-cache-dir --no-deps /opt/airflow/dev-src
