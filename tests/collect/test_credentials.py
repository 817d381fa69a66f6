"""Credentials for collectors (infrastructure/collect/credentials.py): from the environment or
an owner-only file, in either of its two spellings, and never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderledger.infrastructure.collect.credentials import Credentials, Secret
from orderledger.infrastructure.collect.registry import configure, spelled
from orderledger.infrastructure.errors import ConfigurationError


def owner_only(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def test_the_environment_names_a_credential_by_venue_and_name() -> None:
    found = Credentials.load("tradier", ("token",), env={"ORDERLEDGER_TRADIER_TOKEN": "abc"})
    assert found.get("token") == Secret("abc")
    assert Credentials.variable("lighter-testnet", "api_key") == "ORDERLEDGER_LIGHTER_TESTNET_API_KEY"


@pytest.mark.parametrize(
    "text",
    [
        "# the desk's token\ntoken = 'abc'\n",
        "ORDERLEDGER_TRADIER_TOKEN=abc\n",
        '{"token": "abc"}',
    ],
)
def test_a_file_of_name_value_lines_or_a_json_object(tmp_path: Path, text: str) -> None:
    path = owner_only(tmp_path / "creds", text)
    assert Credentials.load("tradier", ("token",), path=path).get("token") == Secret("abc")


def test_a_secret_is_never_shown_and_a_bad_line_is_not_echoed(tmp_path: Path) -> None:
    secret = Secret("abc")
    assert "abc" not in repr(secret) + str(secret) + f"{secret}" + repr(Credentials({"token": secret}))
    path = owner_only(tmp_path / "creds", "abc-without-a-name\n")
    with pytest.raises(ConfigurationError, match="line 1 is not NAME=VALUE") as raised:
        Credentials.load("tradier", ("token",), path=path)
    assert "abc" not in str(raised.value)


def test_a_missing_credential_names_its_variable() -> None:
    with pytest.raises(ConfigurationError) as raised:
        configure("tradier", account="VA1", endpoint=None, options={}, credentials=Credentials())
    assert str(raised.value) == (
        "collect tradier needs the credential 'token': set ORDERLEDGER_TRADIER_TOKEN or give `credentials`"
    )


@pytest.mark.parametrize(
    ("venue", "options", "endpoint", "line"),
    [
        ("bitmex", {}, None, f"the venue must be {spelled()}, not 'bitmex'"),  # every registered venue
        ("fix", {}, None, "collect fix needs `options` path=…"),
        ("fix", {"path": "x", "colour": "red"}, None, "collect fix does not take the option 'colour'"),
        ("tradier", {}, "moon", "`endpoint` must be mainnet, sandbox or a URL, not 'moon'"),
    ],
)
def test_settings_are_checked_against_the_registry_in_one_line(
    venue: str, options: dict[str, str], endpoint: str | None, line: str
) -> None:
    given = Credentials({"token": Secret("abc")})
    with pytest.raises(ConfigurationError) as raised:
        configure(venue, account="VA1", endpoint=endpoint, options=options, credentials=given)
    assert str(raised.value).startswith(line) and "\n" not in str(raised.value)
