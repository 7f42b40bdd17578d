"""The people directory file (SWITCHBOARD_PEOPLE): who exists, their roles, whom they escalate to."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from core.channels import Channel, InvalidAddress, normalize_identities
from core.errors import PeopleFileError
from core.records import Person


def load_people_file(path: Path, channels: Mapping[str, Channel]) -> list[Person]:
    """The people in the file, each address in its channel's one form."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise PeopleFileError(f"cannot read the people directory {path}: {e}") from e
    try:
        people = [Person.model_validate(entry) for entry in data.get("person", [])]
    except ValidationError as e:
        raise PeopleFileError(f"{path}: {e}") from e
    for i, person in enumerate(people):
        try:
            people[i] = normalized(person, channels)
        except InvalidAddress as e:
            raise PeopleFileError(f"{path}: person {person.id}: {e}") from e
    ids = [p.id for p in people]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise PeopleFileError(f"{path}: duplicate person ids {duplicates}")
    if shared := shared_addresses(people):
        raise PeopleFileError(f"{path}: {shared}")
    return people


def shared_addresses(people: list[Person]) -> str:
    """Why the directory is ambiguous: an address that names two people; "" when none does."""
    owner: dict[tuple[str, str], str] = {}
    for person in people:
        for identity in person.identities.items():
            if identity in owner:
                channel, address = identity
                return f"the {channel} address {address} belongs to both {owner[identity]} and {person.id}"
            owner[identity] = person.id
    return ""


def normalized(person: Person, channels: Mapping[str, Channel]) -> Person:
    """`person` with each address in its channel's one form (raises InvalidAddress)."""
    identities = normalize_identities(person.identities, channels)
    return person.model_copy(update={"identities": identities})
