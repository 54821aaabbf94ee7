# Image of every Airflow component of the Baltic Sea Impact Network pipeline
# (api-server, scheduler, dag-processor, triggerer, Celery workers) and of the local
# Forms emulator / SMTP sink services. docker-compose.yaml builds it; a scaled-out worker on
# another host runs the same image.
FROM apache/airflow:3.3.2-python3.11

# The pinned project requirements, resolved for Airflow 3.3.2 (`make lock`). Installing
# apache-airflow at the image's own version alongside keeps pip from moving Airflow itself.
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt

# The project itself, so that the image runs without bind mounts (a worker on another
# host). docker-compose.yaml mounts the working tree over these folders for development.
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 include /opt/airflow/include

# bsin.paths finds include/ relative to the project root; `python -m bsin...` needs the
# package on the path outside Airflow too (Airflow itself adds the plugins folder).
ENV BSIN_PROJECT_ROOT=/opt/airflow \
    PYTHONPATH=/opt/airflow/plugins

# The dbt manifest the monthly DAG renders its Cosmos task group from, parsed at build time
# outside include/ (docker-compose mounts include/ read-only); a changed project is
# re-parsed into the same folder by the DAG processor.
ENV BSIN_DBT_TARGET_DIR=/opt/airflow/dbt-target
RUN python -m bsin.dbt_project parse
