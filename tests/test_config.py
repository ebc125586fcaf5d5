import pytest

from chatbot.config import DEFAULT_MODEL_ID, ConfigError, Settings


def test_defaults_run_locally_on_sqlite() -> None:
    settings = Settings.load(env={}, secrets={})
    assert settings.bedrock_model_id == DEFAULT_MODEL_ID
    assert settings.bedrock_region is None
    assert settings.chat_history_table is None
    assert settings.chat_window_k == 10
    assert settings.chat_history_days == 2
    assert settings.analysts == ()


def test_environment_is_read_and_secrets_win() -> None:
    env = {
        "BEDROCK_MODEL_ID": "env-model",
        "BEDROCK_REGION": "us-west-2",
        "CHAT_WINDOW_K": "4",
        "CHAT_HISTORY_DB": "/tmp/x.sqlite3",
        "ANALYSTS": "kim@example.com, lee@example.com",
    }
    secrets = {"BEDROCK_MODEL_ID": "secret-model", "CHAT_HISTORY_DAYS": 7, "ANALYSTS": ["a@b.c"]}
    settings = Settings.load(env=env, secrets=secrets)
    assert settings.bedrock_model_id == "secret-model"
    assert settings.bedrock_region == "us-west-2"
    assert settings.chat_window_k == 4
    assert settings.chat_history_days == 7
    assert settings.chat_history_db == "/tmp/x.sqlite3"
    assert settings.analysts == ("a@b.c",)
    assert Settings.load(env=env, secrets={}).analysts == ("kim@example.com", "lee@example.com")


def test_empty_values_fall_back_to_defaults() -> None:
    assert Settings.load(env={"CHAT_HISTORY_TABLE": "", "CHAT_WINDOW_K": ""}) == Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHAT_WINDOW_K", "ten"),
        ("CHAT_WINDOW_K", "-1"),
        ("CHAT_MAX_INPUT_CHARS", "0"),
        ("CHAT_MAX_OUTPUT_TOKENS", "0"),
    ],
)
def test_bad_values_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.load(env={name: value})


def test_the_configured_model_is_offered_first_and_once() -> None:
    choices = Settings(bedrock_model_id=DEFAULT_MODEL_ID).model_choices
    assert choices[0] == DEFAULT_MODEL_ID
    assert len(choices) == len(set(choices))
    assert Settings(bedrock_model_id="custom").model_choices[0] == "custom"
