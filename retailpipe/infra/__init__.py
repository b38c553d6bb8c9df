"""Local infrastructure: Java checks, cached jars, and the development Kafka/HDFS processes."""
