from __future__ import annotations

import subprocess
import sys

import pytest

from fraudcore.settings import Settings, SettingsError, env_var_name, load_settings


def test_defaults_serve_the_embedded_stack() -> None:
    settings = load_settings(_env_file=None)
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert [t.name for t in settings.topics.all()] == [
        "transactions",
        "fraud",
        "legit",
        "labels",
        "dead-letters",
    ]
    assert settings.postgres.database == "fraud"
    assert settings.api.url == "http://127.0.0.1:8000"


def test_nested_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA__BOOTSTRAP_SERVERS", "kafka:29092")
    monkeypatch.setenv("TOPICS__FRAUD__PARTITIONS", "6")
    monkeypatch.setenv("POSTGRES__DSN", "postgresql://u:p@db:5433/risk")
    settings = load_settings(_env_file=None)
    assert settings.kafka.servers == ["kafka:29092"]
    assert settings.topics.fraud.partitions == 6
    assert settings.topics.fraud.name == "fraud"
    assert settings.postgres.database == "risk"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"API__PORT": "70000"}, "API__PORT"),
        ({"API__PORT": "eighty"}, "API__PORT"),
        ({"KAFKA__BOOTSTRAP_SERVERS": "no-port-here"}, "KAFKA__BOOTSTRAP_SERVERS"),
        ({"TOPICS__TRANSACTIONS__PARTITIONS": "0"}, "TOPICS__TRANSACTIONS__PARTITIONS"),
        ({"MONGO__URI": "http://not-mongo"}, "MONGO__URI"),
        ({"POSTGRES__DSN": "mysql://x@y/z"}, "POSTGRES__DSN"),
        ({"REDIS__URL": "http://cache:6379"}, "REDIS__URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"KAFKA__HEARTBEAT_INTERVAL_MS": "5000"}, "KAFKA__HEARTBEAT_INTERVAL_MS"),
        ({"ENVIRONMENT": "production"}, "API__KEY"),
        ({"TOPICS__FRAUD__NAME": "legit"}, "TOPICS__*__NAME"),
    ],
)
def test_a_wrong_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    assert variable in str(caught.value)


def test_secrets_are_never_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES__DSN", "mysql://user:hunter2@db/x")
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    assert "hunter2" not in str(caught.value)


def test_production_accepts_a_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("API__KEY", "s3cr3t-from-a-vault")
    assert load_settings(_env_file=None).api.key.get_secret_value() == "s3cr3t-from-a-vault"


def test_settings_survive_a_trip_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    original = load_settings(
        _env_file=None,
        kafka={"bootstrap_servers": "127.0.0.1:1234"},
        api={"key": "k", "cors_origins": ["http://a", "http://b"]},
    )
    for name, value in original.to_env().items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None) == original


def test_env_var_name_of_an_error_location() -> None:
    assert env_var_name(("topics", "fraud", "partitions")) == "TOPICS__FRAUD__PARTITIONS"


def test_a_service_with_a_bad_setting_exits_with_a_message() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api"],
        env={"API__PORT": "not-a-port", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "API__PORT = not-a-port" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unset_optional_setting_is_not_handed_down_as_the_string_none() -> None:
    env = load_settings().to_env()
    assert "SIMULATOR__SEED" not in env
    assert load_settings(simulator={"seed": 4}).to_env()["SIMULATOR__SEED"] == "4"
