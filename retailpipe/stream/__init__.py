"""`retailpipe stream`: Kafka -> Spark Structured Streaming -> rolling windows for plain readers."""
