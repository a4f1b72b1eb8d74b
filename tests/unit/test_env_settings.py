"""The functions' settings read from the environment (asyncinfer.config.EnvSettings) the way pydantic-settings'
BaseSettings read them before: the ASYNCINFER_ prefix in any letter case, a field's own variable names, JSON for
lists, dicts and models, arguments before the environment, and a clear error for a bad value."""

from __future__ import annotations

import pytest
from pydantic import AliasChoices, BaseModel, Field, ValidationError

from asyncinfer.config import EnvSettings, WorkerSettings


class Limits(BaseModel):
    most: int


class Example(EnvSettings):
    table_name: str = Field(min_length=3)
    hosts: list[str] = Field(default_factory=list)
    slots_by_queue: dict[str, int] | None = None
    limits: Limits | None = None
    enabled: bool = False
    ratio: float = 0.5
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("EXAMPLE_BASE_URL", "OTHER_URL"))


@pytest.fixture
def env(monkeypatch):
    for name in ("ASYNCINFER_TABLE_NAME", "ASYNCINFER_HOSTS", "EXAMPLE_BASE_URL", "OTHER_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_each_field_is_read_from_its_prefixed_variable_in_any_letter_case(env):
    env.setenv("ASYNCINFER_TABLE_NAME", "tasks")
    env.setenv("asyncinfer_enabled", "true")
    env.setenv("Asyncinfer_Ratio", "0.25")
    settings = Example()
    assert (settings.table_name, settings.enabled, settings.ratio) == ("tasks", True, 0.25)
    assert (settings.hosts, settings.slots_by_queue, settings.base_url) == ([], None, None)


def test_lists_dicts_and_models_are_json_and_scalars_are_text(env):
    env.setenv("ASYNCINFER_TABLE_NAME", "tasks")
    env.setenv("ASYNCINFER_HOSTS", '["a.example", "b.example"]')
    env.setenv("ASYNCINFER_SLOTS_BY_QUEUE", '{"arn:q": 4}')
    env.setenv("ASYNCINFER_LIMITS", '{"most": 3}')
    settings = Example()
    assert settings.hosts == ["a.example", "b.example"]
    assert settings.slots_by_queue == {"arn:q": 4}
    assert settings.limits == Limits(most=3)


def test_a_field_with_its_own_variables_reads_them_in_order_and_not_the_prefixed_name(env):
    env.setenv("ASYNCINFER_TABLE_NAME", "tasks")
    env.setenv("ASYNCINFER_BASE_URL", "http://127.0.0.1:1/ignored")
    env.setenv("OTHER_URL", "http://127.0.0.1:2")
    assert Example().base_url == "http://127.0.0.1:2"
    env.setenv("EXAMPLE_BASE_URL", "http://127.0.0.1:3")
    assert Example().base_url == "http://127.0.0.1:3"


def test_arguments_win_over_the_environment(env):
    env.setenv("ASYNCINFER_TABLE_NAME", "from-env")
    assert Example(table_name="from-args").table_name == "from-args"


def test_a_bad_value_fails_at_construction_naming_the_variable_or_field(env):
    env.setenv("ASYNCINFER_HOSTS", "not json")
    env.setenv("ASYNCINFER_TABLE_NAME", "tasks")
    with pytest.raises(ValueError, match="ASYNCINFER_HOSTS is not JSON"):
        Example()
    env.delenv("ASYNCINFER_HOSTS")
    env.setenv("ASYNCINFER_TABLE_NAME", "ab")
    with pytest.raises(ValidationError, match="table_name"):
        Example()
    env.delenv("ASYNCINFER_TABLE_NAME")
    with pytest.raises(ValidationError, match="table_name"):
        Example()  # no default: a function deployed without it fails loudly


def test_settings_are_frozen_and_ignore_other_variables(env):
    env.setenv("ASYNCINFER_TABLE_NAME", "tasks")
    env.setenv("ASYNCINFER_SOMETHING_ELSE", "x")
    settings = Example()
    with pytest.raises(ValidationError):
        settings.table_name = "other"


def test_a_real_settings_class_reads_a_deployed_worker_environment(env):
    env.setenv("ASYNCINFER_TABLE_NAME", "asyncinfer-prod-tasks")
    env.setenv("ASYNCINFER_SEALING_KEY_ID", "alias/asyncinfer")
    env.setenv("ASYNCINFER_BUCKET_NAME", "asyncinfer-prod-outputs")
    env.setenv("ASYNCINFER_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/tasks")
    env.setenv("ASYNCINFER_MAX_ATTEMPTS", "5")
    settings = WorkerSettings()
    assert (settings.table_name, settings.max_attempts) == ("asyncinfer-prod-tasks", 5)
