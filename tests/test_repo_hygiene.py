"""What is committed stays honest: every cassette says where it came from, and no cassette
or notebook holds a secret.

The scan is detect-secrets (every plugin but the high-entropy ones: notebooks hold base64
images and cassettes hold random completion ids) plus a few patterns of our own for what
a recorded model call could leak. The last tests plant secrets in a temporary file, to
show that the scan finds them.
"""
import json
import re
from pathlib import Path

import pytest
import yaml
from detect_secrets import SecretsCollection
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.settings import transient_settings

REPO = Path(__file__).resolve().parent.parent
CASSETTES = sorted(REPO.glob("cassettes/**/*.yaml"))
NOTEBOOKS = sorted(REPO.glob("notebooks/*.ipynb"))

DETECT_SECRETS_PLUGINS = [
    {"name": plugin.__name__}
    for plugin in get_mapping_from_secret_type_to_class().values()
    if "HighEntropy" not in plugin.__name__
]
LEAK_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9]{16,}"),  # an OpenAI-style key
    re.compile(r"\blk-[0-9a-f]{32}\b"),  # the course's own keys (labkit/patterns/access.py)
    re.compile(r"Bearer "),  # an Authorization header's value
    # Header names followed by a colon, as a cassette or a printed header dict has them;
    # prose that explains these headers does not match.
    re.compile(r"""\b(authorization|set-cookie|openai-organization)\\?["']?\s*:""", re.I),
]


def secrets_in(path: Path) -> list[str]:
    """Every suspected secret in the file, as "line N: what"; empty when it is clean."""
    found = []
    with transient_settings({"plugins_used": DETECT_SECRETS_PLUGINS}):
        collection = SecretsCollection()
        collection.scan_file(str(path))
    for _, secret in collection:
        found.append(f"line {secret.line_number}: {secret.type}")
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        for pattern in LEAK_PATTERNS:
            if pattern.search(line):
                found.append(f"line {number}: matches {pattern.pattern}")
    return found


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.mark.parametrize("cassette", CASSETTES, ids=relative)
def test_cassette_carries_its_provenance(cassette):
    provenance = yaml.safe_load(cassette.read_text())["metadata"]["provenance"]

    assert {"backend", "model", "labkit", "date"} <= set(provenance)


@pytest.mark.parametrize("committed", CASSETTES + NOTEBOOKS, ids=relative)
def test_committed_file_holds_no_secret(committed):
    assert secrets_in(committed) == []


# The scan itself: it must find what it is there to find, and pass what is harmless.

@pytest.mark.parametrize("planted", [
    pytest.param("aws_access_key_id: AKIAIOSFODNN7EXAMPLE", id="aws-key-by-detect-secrets"),
    pytest.param('password = "hunter2-correct-horse"', id="password-by-detect-secrets"),
    pytest.param("api_key: sk-abcdefghijklmnop1234", id="openai-style-key"),
    pytest.param("- Bearer abc.def", id="bearer-token"),
    pytest.param("      authorization:", id="authorization-header"),
    pytest.param("      Set-Cookie:", id="set-cookie-header"),
    pytest.param('    "openai-organization": "org-123",', id="organization-header"),
])
def test_scan_finds_a_planted_secret(tmp_path, planted):
    leaky = tmp_path / "calls.yaml"
    leaky.write_text(f"interactions:\n- request:\n    headers:\n{planted}\n")

    assert secrets_in(leaky) != []


def test_scan_passes_a_clean_cassette_with_random_ids(tmp_path):
    clean = tmp_path / "calls.yaml"
    clean.write_text(
        "interactions:\n"
        "- request:\n"
        "    headers:\n"
        "      content-type:\n"
        "      - application/json\n"
        "    uri: http://model.invalid/v1/chat/completions\n"
        "  response:\n"
        "    body:\n"
        "      string: '{\"id\":\"chatcmpl-OtpnvHHfUFLyEKjVQVfBANdtyrZfmZFx\","
        "\"content\":\"The authorization header is removed.\"}'\n"
    )

    assert secrets_in(clean) == []


def test_scan_finds_a_key_printed_in_a_notebook_output(tmp_path):
    notebook = tmp_path / "01_leaky.ipynb"
    notebook.write_text(json.dumps({"cells": [{
        "cell_type": "code", "source": ["print(os.environ['AWS_ACCESS_KEY_ID'])"],
        "outputs": [{"output_type": "stream", "name": "stdout",
                     "text": ["AKIAIOSFODNN7EXAMPLE\n"]}],
    }]}, indent=1))

    assert secrets_in(notebook) != []
