"""`retailpipe batch`: extract raw CSV, cleanse and validate, aggregate, publish atomically."""
