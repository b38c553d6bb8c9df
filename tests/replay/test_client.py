"""Producer settings: safe defaults, librdkafka pass-through, secrets never printed."""

from __future__ import annotations

from retailpipe.replay.client import masked, producer_config
from retailpipe.settings import load_settings


def test_producer_is_idempotent_and_passes_client_settings_through() -> None:
    settings = load_settings(
        None,
        {
            "kafka.sasl_username": "svc",
            "kafka.sasl_password": "hunter2-secret",
            "kafka.client": {
                "security.protocol": "SASL_SSL",
                "ssl.key.password": "pem-pass",
                "linger.ms": 5,
            },
        },
    )
    config = producer_config(settings)
    assert config["enable.idempotence"] is True and config["acks"] == "all"
    assert config["compression.type"] == "lz4"
    assert config["security.protocol"] == "SASL_SSL"
    assert config["linger.ms"] == 5, "kafka.client overrides the defaults"
    assert config["sasl.password"] == "hunter2-secret"
    shown = repr(masked(config))
    assert "hunter2" not in shown and "pem-pass" not in shown
    assert "svc" in shown and "SASL_SSL" in shown
