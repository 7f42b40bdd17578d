"""The people directory file: what it says is loaded, what it cannot mean is refused in one line
naming the file, the line, what is wrong and the fix."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from core.app import build_channels
from core.channels import Channel
from core.errors import PeopleFileError
from core.people import load_people_file
from tests.fixtures import service_settings

DEMO = Path(__file__).parents[1] / "deploy" / "people.demo.toml"

BOB = """\
[[person]]
id = "bob"
name = "Bob Example"
roles = ["engineer"]
channels = ["slack"]
identities = { slack = "U0BOB" }
"""

ALICE = """\
[[person]]
id = "alice"
name = "Alice Example"
roles = ["deploy-approver"]
channels = ["discord", "sms"]
identities = { discord = "100000000000000001", sms = "+1 555 010 0001" }
"""


@functools.cache
def installed() -> dict[str, Channel]:
    """The channels as the service builds them: all four, as their sandboxes."""
    return build_channels(service_settings("sqlite+aiosqlite:///:memory:"))


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "people.toml"
    path.write_text(text)
    with pytest.raises(PeopleFileError) as refused:
        load_people_file(path, installed())
    detail = refused.value.detail
    assert "\n" not in detail
    assert detail.startswith(f"{path}:")
    return detail.removeprefix(f"{path}:")


def test_the_demo_directory_loads_and_its_channels_are_installed() -> None:
    assert {"sms", "email", "slack", "discord"} <= set(installed())
    people = load_people_file(DEMO, installed())
    assert [p.id for p in people] == ["alice", "erin", "bob", "carol", "dana"]
    assert next(p for p in people if p.id == "bob").escalate_to == "alice"


def test_addresses_are_normalised_and_escalation_to_a_role_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "people.toml"
    path.write_text(
        ALICE
        + "\n"
        + BOB.replace("[[person]]\n", '[[person]]\nescalate_to = "role:deploy-approver"\n')
    )
    alice, bob = load_people_file(path, installed())
    assert alice.identities["sms"] == "+15550100001"
    assert bob.escalate_to == "role:deploy-approver"


def test_an_unknown_table_is_refused_with_its_line(tmp_path: Path) -> None:
    said = refusal(tmp_path, "# the team\n\n" + BOB.replace("[[person]]", "[[people]]"))
    assert said == (
        "3: unknown table [[people]]: people are listed as [[person]],"
        " and the file holds nothing else"
    )


def test_an_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    said = refusal(tmp_path, "version = 2\n\n" + BOB)
    assert said.startswith("1: unknown key version: ")


def test_a_single_person_table_is_refused(tmp_path: Path) -> None:
    said = refusal(tmp_path, BOB.replace("[[person]]", "[person]"))
    assert said.startswith("1: person is a single table: write [[person]] (two brackets)")


def test_an_unknown_key_in_a_person_suggests_the_field(tmp_path: Path) -> None:
    said = refusal(tmp_path, ALICE + "\n" + BOB.replace("roles =", "role ="))
    assert said == "11: person bob: unknown key role: did you mean roles?"


def test_an_unknown_key_with_nothing_close_lists_the_fields(tmp_path: Path) -> None:
    said = refusal(tmp_path, BOB + 'favourite_colour = "green"\n')
    assert said == (
        "7: person bob: unknown key favourite_colour:"
        " a person has id, name, roles, escalate_to, channels, identities"
    )


@pytest.mark.parametrize("text", ["", "# nobody yet\n\n# [[person]]\n"])
def test_a_directory_with_no_one_is_refused(tmp_path: Path, text: str) -> None:
    said = refusal(tmp_path, text)
    assert said.startswith("1: the people directory is empty: add each person as a table, e.g. ")
    assert '[[person]] id = "alice"' in said


def test_an_unknown_channel_in_channels_is_refused_with_the_installed_ones(
    tmp_path: Path,
) -> None:
    said = refusal(tmp_path, BOB.replace('channels = ["slack"]', 'channels = ["slack", "teams"]'))
    assert said == (
        "5: person bob: unknown channel teams in channels:"
        " the installed channels are discord, email, slack, sms"
    )


def test_an_unknown_channel_in_identities_is_refused(tmp_path: Path) -> None:
    said = refusal(tmp_path, BOB.replace('slack = "U0BOB"', 'slack = "U0BOB", slak = "U0BOB2"'))
    assert said == (
        "6: person bob: unknown channel slak in identities: did you mean slack?"
        " the installed channels are discord, email, slack, sms"
    )


def test_an_escalation_to_no_one_is_refused(tmp_path: Path) -> None:
    said = refusal(tmp_path, ALICE + "\n" + BOB + 'escalate_to = "nobody"\n')
    assert said == (
        '14: person bob: escalate_to = "nobody" names no one in this file:'
        " give a person id or role:NAME of a role someone has"
        " (alice, bob, role:deploy-approver, role:engineer)"
    )


def test_an_escalation_to_a_role_no_one_has_is_refused(tmp_path: Path) -> None:
    said = refusal(tmp_path, ALICE + "\n" + BOB + 'escalate_to = "role:sre"\n')
    assert said.startswith('14: person bob: escalate_to = "role:sre" names no one in this file')


def test_a_duplicate_id_is_refused_at_the_second(tmp_path: Path) -> None:
    second = BOB.replace('"U0BOB"', '"U0BOB2"')
    said = refusal(tmp_path, BOB + "\n" + second)
    assert said == "9: duplicate person id bob (also line 2): give each person their own id"


def test_a_shared_address_is_refused_at_the_second_owner(tmp_path: Path) -> None:
    carol = BOB.replace('"bob"', '"carol"').replace("Bob", "Carol").replace("slack", "sms")
    carol = carol.replace('"U0BOB"', '"+15550100001"')
    said = refusal(tmp_path, ALICE + "\n" + carol)
    assert said == (
        "13: the sms address +15550100001 belongs to both alice and carol:"
        " an address names one person; remove it from one of them"
    )


def test_an_invalid_address_is_refused_with_its_line(tmp_path: Path) -> None:
    said = refusal(tmp_path, BOB.replace('slack = "U0BOB"', 'sms = "not a number"'))
    assert said.startswith("6: person bob: sms: ")


def test_a_missing_name_is_one_line_with_the_person(tmp_path: Path) -> None:
    said = refusal(tmp_path, BOB.replace('name = "Bob Example"\n', ""))
    assert said.startswith("1: person bob: name: Field required: a person needs id and name")


def test_toml_that_does_not_parse_is_refused_with_its_line(tmp_path: Path) -> None:
    said = refusal(tmp_path, BOB + "roles ==\n")
    assert said.startswith("7: not valid TOML: ")
