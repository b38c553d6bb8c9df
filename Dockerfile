# The images of the Compose stacks, one Dockerfile with three targets that share their layers:
#
#   retailpipe  (the default, last stage) Python 3.11, a Java 17 runtime, retailpipe and PySpark,
#               Spark's Kafka connector and Hadoop's client jars: the pipeline's stages, the
#               dashboards, and the Spark master and workers.
#   kafka       an Apache Kafka broker (KRaft) from the Maven jars retailpipe resolves.
#   hadoop      Apache Hadoop's NameNode, DataNode and `hdfs` shell from the same jars.
#
# Every jar is resolved at build time with retailpipe's own Maven code; nothing downloads at
# run time. Build them all with scripts/compose_build.py (see docs/deploy.md), or one with
#   docker build --target kafka -t retailpipe-kafka:4.1.1 .
#
# Build arguments:
#   BASE_IMAGE  a Debian bookworm image (python:3.11-slim-bookworm, or a local debootstrap one:
#               scripts/docker-base-image.sh). Without Python 3.11 in it, Debian's is installed.
#   JAR_SEED    an image holding a retailpipe jar cache (`m2/`, Maven's local repository) to
#               resolve from offline; the default, scratch, means Maven downloads.
# Build secret (BuildKit): `--secret id=ca,src=<PEM bundle>` adds CA certificates for a
# TLS-inspecting proxy to the build stage only; the final images never contain them.

ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG JAR_SEED=scratch

FROM ${JAR_SEED} AS jar-seed

# What every image runs on: a Java 17 runtime, Python 3.11, tini, curl for health checks.
FROM ${BASE_IMAGE} AS runtime
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
RUN packages="openjdk-17-jre-headless procps tini curl" \
 && { command -v python3 >/dev/null || packages="$packages python3"; } \
 && apt-get update \
 && apt-get install -y --no-install-recommends $packages \
 && rm -rf /var/lib/apt/lists/* \
 # The JRE path differs on arm64; one stable link keeps JAVA_HOME right on both.
 && ln -sfn "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /usr/lib/jvm/java-17 \
 && test -x /usr/lib/jvm/java-17/bin/java \
 && python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'
ENV JAVA_HOME=/usr/lib/jvm/java-17

FROM runtime AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RETAILPIPE_CACHE_DIR=/opt/retailpipe/cache \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN --mount=type=secret,id=ca \
    packages="maven ca-certificates" \
 && { python3 -c 'import ensurepip' 2>/dev/null || packages="$packages python3-venv"; } \
 && apt-get update \
 && apt-get install -y --no-install-recommends $packages \
 && rm -rf /var/lib/apt/lists/* \
 # One file per certificate: update-ca-certificates adds them to the PEM bundle (pip) and to
 # Java's trust store (Maven).
 && if [ -s /run/secrets/ca ]; then \
      mkdir -p /usr/local/share/ca-certificates/build \
      && awk '/BEGIN CERTIFICATE/ { n++ } n { print > ("/usr/local/share/ca-certificates/build/" n ".crt") }' /run/secrets/ca \
      && update-ca-certificates >/dev/null; \
    fi
RUN python3 -m venv /opt/retailpipe/venv
ENV PATH=/opt/retailpipe/venv/bin:$PATH
WORKDIR /src
# The dependencies first, from pyproject.toml alone, so code edits do not re-install PySpark.
COPY pyproject.toml README.md LICENSE ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import subprocess, sys, tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.run([sys.executable, '-m', 'pip', 'install', *deps], check=True)"
COPY retailpipe ./retailpipe
RUN pip install --no-deps --no-cache-dir . && retailpipe --version
# The jars, resolved by retailpipe's own Maven code from the seed's repository when there is
# one (offline), else from Maven Central.
COPY docker/stage_jars.py /usr/local/lib/retailpipe/stage_jars.py
RUN --mount=type=bind,from=jar-seed,target=/seed \
    mkdir -p "$RETAILPIPE_CACHE_DIR" \
 && if [ -d /seed/m2 ]; then cp -a /seed/. "$RETAILPIPE_CACHE_DIR/"; fi \
 && rm -rf "$RETAILPIPE_CACHE_DIR/classpaths" \
 && python /usr/local/lib/retailpipe/stage_jars.py /opt/kafka/libs /opt/hadoop/jars

# The Kafka broker: `docker/kafka/kafka.py` turns KAFKA_* variables into server.properties
# (KAFKA_NODE_ID -> node.id), formats the log folder once (CLUSTER_ID) and runs the broker.
FROM runtime AS kafka
COPY --from=build /opt/kafka/libs /opt/kafka/libs
COPY docker/kafka/kafka.py /opt/kafka/bin/kafka.py
COPY docker/kafka/kafka_ready.py /opt/kafka/bin/kafka-ready
COPY docker/kafka/log4j2.properties /opt/kafka/config/log4j2.properties
ENV PATH=/opt/kafka/bin:$PATH
WORKDIR /opt/kafka
EXPOSE 9092 9093
ENTRYPOINT ["tini", "--", "python3", "/opt/kafka/bin/kafka.py"]

# HDFS: `hdfs namenode|datanode|dfs|dfsadmin` as in Hadoop's own image, configured from
# CORE-SITE.XML_<key> and HDFS-SITE.XML_<key> variables.
FROM runtime AS hadoop
COPY --from=build /opt/hadoop/jars /opt/hadoop/jars
COPY docker/hadoop/hdfs.py /opt/hadoop/bin/hdfs
ENV PATH=/opt/hadoop/bin:$PATH
WORKDIR /opt/hadoop
EXPOSE 8020 9870 9864 9866 9867
ENTRYPOINT ["tini", "--"]
CMD ["hdfs", "--help"]

FROM runtime AS retailpipe
LABEL org.opencontainers.image.title="retailpipe" \
      org.opencontainers.image.description="Retail point-of-sale pipeline: Spark batch, Kafka replay, Structured Streaming, dashboards" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN useradd --create-home --uid 1000 retail \
 && mkdir -p /data /serving /etc/retailpipe \
 && chown retail:retail /data /serving
COPY --from=build /opt/retailpipe /opt/retailpipe
ENV PATH=/opt/retailpipe/venv/bin:$PATH \
    RETAILPIPE_CACHE_DIR=/opt/retailpipe/cache \
    SPARK_HOME=/opt/retailpipe/venv/lib/python3.11/site-packages/pyspark \
    SPARK_SCALA_VERSION=2.13 \
    PYSPARK_PYTHON=/opt/retailpipe/venv/bin/python \
    PYTHONUNBUFFERED=1
COPY configs /etc/retailpipe/configs
WORKDIR /data
USER retail
# The Spark master and workers of the Compose stacks run from this image too
# (`spark-class org.apache.spark.deploy.master.Master ...`), so executors have the same
# Python 3.11 and retailpipe as the driver.
ENTRYPOINT ["tini", "--", "retailpipe"]
CMD ["--help"]
