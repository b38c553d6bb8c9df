"""Config precedence (flag > env > file > default) and strict, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from retailpipe.errors import ConfigError
from retailpipe.settings import Settings, load_settings, masked_dict

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "rp.toml"
    path.write_text(
        '[kafka]\ntopic = "from-file"\nbootstrap_servers = "file:9092"\n'
        '[storage]\nroot = "/from/file"\n[generate]\ndays = 7\n'
    )
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("RETAILPIPE_"):
            monkeypatch.delenv(name)


def test_defaults_need_no_config_file() -> None:
    settings = load_settings()
    assert settings.storage.root == "./data"
    assert settings.kafka.topic == "retail.transactions"
    assert settings.generate.days == 30


def test_file_overrides_defaults(config_file: Path) -> None:
    settings = load_settings(config_file)
    assert settings.kafka.topic == "from-file"
    assert settings.generate.days == 7
    assert settings.stream.window == "1 hour"  # untouched default


def test_env_overrides_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAILPIPE_KAFKA__TOPIC", "from-env")
    monkeypatch.setenv("RETAILPIPE_STORAGE__ROOT", "hdfs://nn:9000/env")
    settings = load_settings(config_file)
    assert settings.kafka.topic == "from-env"
    assert settings.kafka.bootstrap_servers == "file:9092"  # file still wins over default
    assert settings.storage.root == "hdfs://nn:9000/env"


def test_flags_override_env(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAILPIPE_KAFKA__TOPIC", "from-env")
    settings = load_settings(config_file, {"kafka.topic": "from-flag", "generate.days": None})
    assert settings.kafka.topic == "from-flag"
    assert settings.generate.days == 7  # a flag left unset (None) does not override


def test_config_file_from_env_variable(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAILPIPE_CONFIG", str(config_file))
    assert load_settings().kafka.topic == "from-file"


def test_unknown_key_in_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[kafka]\ntopik = 'x'\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    line = info.value.one_line()
    assert "kafka.topik" in line and "Fix:" in line and "\n" not in line


def test_invalid_value_names_the_key_and_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAILPIPE_GENERATE__DAYS", "zero")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "generate.days" in info.value.message
    assert "RETAILPIPE_GENERATE__DAYS" in info.value.message


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[kafak]\ntopic = 'x'\n")
    with pytest.raises(ConfigError, match="kafak"):
        load_settings(path)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_broken_toml_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[kafka\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(path)


def test_bad_timezone_is_rejected() -> None:
    with pytest.raises(ConfigError, match="time zone"):
        load_settings(None, {"generate.timezone": "Mars/Olympus"})


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAILPIPE_KAFKA__SASL_PASSWORD", "hunter2")
    settings = load_settings(None, {"kafka.client": {"ssl.key.password": "pw", "acks": "all"}})
    assert settings.kafka.sasl_password is not None
    assert settings.kafka.sasl_password.get_secret_value() == "hunter2"
    shown = masked_dict(settings)
    assert "hunter2" not in repr(shown) and "'pw'" not in repr(shown)
    assert shown["kafka"]["client"]["acks"] == "all"
    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize("name", ["default.toml", "compose.toml", "hdfs.toml"])
def test_shipped_config_files_load(name: str) -> None:
    path = REPO / "configs" / name
    if not path.exists():
        pytest.fail(f"configs/{name} is missing")
    assert isinstance(load_settings(path), Settings)


def test_default_config_file_matches_builtin_defaults() -> None:
    assert load_settings(REPO / "configs" / "default.toml") == load_settings()
