"""`replay`: send raw CSV rows to Kafka as JSON events, paced or as fast as the broker allows."""
