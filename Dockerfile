# syntax=docker/dockerfile:1
# The retailpipe image: Python 3.11, a Java 17 runtime for Spark, retailpipe and PySpark,
# and Spark's Kafka connector jars fetched at build time (no downloads when it runs).
# Build: docker build -t retailpipe:latest .   (the Compose files build it too)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RETAILPIPE_CACHE_DIR=/opt/retailpipe/cache
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless maven \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/retailpipe/venv
ENV PATH=/opt/retailpipe/venv/bin:$PATH
WORKDIR /src
# Dependencies first so code edits do not re-install PySpark.
COPY pyproject.toml README.md ./
COPY retailpipe ./retailpipe
RUN pip install .
# Resolve Spark's Kafka connector (matching the installed PySpark) into the jar cache with
# the same code the CLI uses; the runtime image finds it there and never calls Maven.
RUN python -c "from retailpipe.infra.jars import spark_kafka_jars; \
from retailpipe.settings import load_settings; \
print(len(spark_kafka_jars(load_settings())), 'connector jars cached')"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="retailpipe" \
      org.opencontainers.image.description="Retail point-of-sale pipeline: Spark batch, Kafka replay, Structured Streaming, dashboards" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps tini curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 retail \
 && mkdir -p /data /serving /etc/retailpipe \
 && chown retail:retail /data /serving
COPY --from=build /opt/retailpipe /opt/retailpipe
ENV PATH=/opt/retailpipe/venv/bin:$PATH \
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    RETAILPIPE_CACHE_DIR=/opt/retailpipe/cache \
    SPARK_HOME=/opt/retailpipe/venv/lib/python3.11/site-packages/pyspark \
    SPARK_SCALA_VERSION=2.13 \
    PYSPARK_PYTHON=/opt/retailpipe/venv/bin/python \
    PYTHONUNBUFFERED=1
# The JRE path differs on arm64; one stable link keeps JAVA_HOME right on both.
RUN ln -sfn "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /usr/lib/jvm/java-17 \
 && test -x /usr/lib/jvm/java-17/bin/java
ENV JAVA_HOME=/usr/lib/jvm/java-17
COPY configs /etc/retailpipe/configs
WORKDIR /data
USER retail
# The Spark master and workers of the Compose stacks run from this image too
# (`spark-class org.apache.spark.deploy.master.Master ...`), so executors have the same
# Python 3.11 and retailpipe as the driver.
ENTRYPOINT ["tini", "--", "retailpipe"]
CMD ["--help"]
