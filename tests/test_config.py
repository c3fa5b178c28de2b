"""labkit.llm.config.load(): settings from the environment, and errors that name the fix.

Each test passes its own environment as a dict, so nothing here depends on os.environ.
"""
from pathlib import Path

import pytest

from labkit.llm.config import ConfigError, load


def test_defaults_replay_the_small_local_models_cassettes_instantly():
    config = load({})

    assert config.backend == "replay"
    assert config.model == "SmolLM2-135M-Instruct"
    assert config.replay_speed == 0.0
    assert config.record is False
    assert config.live is False


def test_backend_name_ignores_case_and_spaces():
    assert load({"LABKIT_BACKEND": " Local "}).backend == "local"


def test_openai_backend_defaults_to_gpt_4o_mini():
    config = load({"LABKIT_BACKEND": "openai", "OPENAI_API_KEY": "sk-test"})

    assert config.model == "gpt-4o-mini"
    assert config.live is True


def test_labkit_model_overrides_the_default_model():
    config = load({"LABKIT_BACKEND": "openai", "OPENAI_API_KEY": "sk-test",
                   "LABKIT_MODEL": "llama3.2:1b"})

    assert config.model == "llama3.2:1b"


def test_replay_speed_one_waits_as_recorded():
    assert load({"LABKIT_REPLAY_SPEED": "1"}).replay_speed == 1.0


def test_cassette_dir_can_be_moved():
    assert load({"LABKIT_CASSETTE_DIR": "/tmp/elsewhere"}).cassette_dir == Path("/tmp/elsewhere")


def test_record_false_written_in_python_style_means_do_not_record():
    # "False" is how a Python programmer writes false; it must not switch recording on.
    config = load({"LABKIT_BACKEND": "local", "LABKIT_RECORD": "False"})

    assert config.record is False


@pytest.mark.parametrize("env, words", [
    pytest.param({"LABKIT_BACKEND": "gpt"},
                 ["LABKIT_BACKEND", "replay", "local", "openai"], id="unknown-backend"),
    pytest.param({"LABKIT_BACKEND": "openai"},
                 ["OPENAI_API_KEY", "LABKIT_BACKEND=local"], id="openai-without-key"),
    pytest.param({"LABKIT_REPLAY_SPEED": "fast"},
                 ["LABKIT_REPLAY_SPEED", "from 0 to 100"], id="speed-not-a-number"),
    pytest.param({"LABKIT_REPLAY_SPEED": "-1"},
                 ["LABKIT_REPLAY_SPEED", "from 0 to 100"], id="speed-negative"),
    pytest.param({"LABKIT_RECORD": "1"},
                 ["LABKIT_RECORD", "LABKIT_BACKEND=local", "make cassettes"], id="record-replay"),
    pytest.param({"LABKIT_LOCAL_PORT": "http"},
                 ["LABKIT_LOCAL_PORT", "Unset it"], id="port-not-a-number"),
    pytest.param({"LABKIT_LOCAL_PORT": "70000"},
                 ["LABKIT_LOCAL_PORT", "Unset it"], id="port-too-big"),
])
def test_bad_setting_raises_config_error_naming_variable_and_fix(env, words):
    with pytest.raises(ConfigError) as error:
        load(env)

    for word in words:
        assert word in str(error.value)
