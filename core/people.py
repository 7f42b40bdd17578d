"""The people directory file (SWITCHBOARD_PEOPLE): who exists, their roles, whom they escalate to.

A file that says something it cannot mean is refused, in one line a person can act on:
`path:line: what is wrong: the fix`. tomllib gives no positions, so the line is found by searching
the raw text for the key or value at fault (the person's `[[person]]` line when it is not found).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.channels import Channel, InvalidAddress, normalize_identities
from core.errors import PeopleFileError
from core.records import Person

FIELDS = list(Person.model_fields)


def _example(channels: Mapping[str, Channel]) -> str:
    """A person as the file writes one, on the first installed channel."""
    name = next(iter(sorted(channels)), "")
    address = channels[name].codec.address.example if name else ""
    identities = f' identities = {{ {name} = "{address}" }}' if name else ""
    return f'[[person]] id = "alice" name = "Alice Example"{identities}'


def load_people_file(path: Path, channels: Mapping[str, Channel]) -> list[Person]:
    """The people in the file, each address in its channel's one form. Raises PeopleFileError."""
    try:
        text = path.read_text()
    except OSError as e:
        raise PeopleFileError(f"cannot read the people directory {path}: {e}") from e
    source = _Source(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        where = re.search(r"\(at line (\d+), column \d+\)$", str(e))
        reason = str(e)[: where.start()].strip() if where else str(e)
        raise source.error(
            int(where.group(1)) if where else 1,
            f"not valid TOML: {reason}: fix the syntax there",
        ) from e
    entries = _entries(source, data, channels)
    people = [_person(source, i, entry) for i, entry in enumerate(entries)]
    for i, person in enumerate(people):
        _check_channels(source, i, person, channels)
        try:
            people[i] = normalized(person, channels)
        except InvalidAddress as e:
            line = source.key_line(i, e.channel)
            raise source.error(
                line, f"person {person.id}: {e}: write the address as that channel takes it"
            ) from e
    _check_unique(source, people)
    _check_escalations(source, people)
    return people


class _Source:
    """The raw text, to find the line a key or value is on."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        header = re.compile(r"^\s*\[\[\s*person\s*\]\]")
        self.starts = [n for n, line in enumerate(self.lines) if header.match(line)]

    def error(self, line: int, message: str) -> PeopleFileError:
        return PeopleFileError(f"{self.path}:{line}: {message}")

    def find(self, pattern: str, start: int = 0, end: int | None = None) -> int | None:
        """The 1-based number of the first line in [start, end) matching `pattern`, if any."""
        found = re.compile(pattern)
        for n in range(start, len(self.lines) if end is None else end):
            if found.search(self.lines[n]):
                return n + 1
        return None

    def span(self, i: int) -> tuple[int, int]:
        """The lines of person number `i`: from their `[[person]]` to the next one."""
        if i >= len(self.starts):
            return 0, len(self.lines)
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.lines)
        return self.starts[i], end

    def person_line(self, i: int) -> int:
        return self.starts[i] + 1 if i < len(self.starts) else 1

    def key_line(self, i: int, key: str) -> int:
        """Where person `i` says `key = …` (also inside an inline table); else their header."""
        pattern = rf"(^|[{{,\s])[\"']?{re.escape(key)}[\"']?\s*="
        return self.find(pattern, *self.span(i)) or self.person_line(i)

    def value_line(self, i: int, value: str) -> int:
        """Where person `i` writes the string `value`; else their header."""
        pattern = rf"[\"']{re.escape(value)}[\"']"
        return self.find(pattern, *self.span(i)) or self.person_line(i)

    def top_line(self, key: str) -> int:
        """Where the file opens the table `key` or sets the key `key` at the top; else line 1."""
        name = rf"[\"']?{re.escape(key)}[\"']?"
        return self.find(rf"^\s*\[\[?\s*{name}\s*[\].]") or self.find(rf"^\s*{name}\s*[.=]") or 1


def _entries(source: _Source, data: dict[str, Any], channels: Mapping[str, Channel]) -> list[Any]:
    """The `[[person]]` tables; anything else at the top, or none at all, is refused."""
    for key, value in data.items():
        if key == "person":
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            what = f"table [[{key}]]"
        elif isinstance(value, dict):
            what = f"table [{key}]"
        else:
            what = f"key {key}"
        raise source.error(
            source.top_line(key),
            f"unknown {what}: people are listed as [[person]], and the file holds nothing else",
        )
    entries = data.get("person", [])
    if not isinstance(entries, list):
        raise source.error(
            source.top_line("person"),
            "person is a single table: write [[person]] (two brackets), once for each person",
        )
    if not entries:
        raise source.error(
            1,
            f"the people directory is empty: add each person as a table, e.g. {_example(channels)}",
        )
    return entries


def _person(source: _Source, i: int, entry: Any) -> Person:
    """Entry number `i` as a Person: no key a person does not have, each of the right type."""
    if isinstance(entry, dict):
        for key in entry:
            if key in FIELDS:
                continue
            close = difflib.get_close_matches(key, FIELDS, n=1)
            fix = f"did you mean {close[0]}?" if close else f"a person has {', '.join(FIELDS)}"
            raise source.error(
                source.key_line(i, key), f"{_who(i, entry)}: unknown key {key}: {fix}"
            )
    try:
        return Person.model_validate(entry)
    except ValidationError as e:
        first = e.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else ""
        line = source.key_line(i, key) if key else source.person_line(i)
        said = f"{key}: {first['msg']}" if key else first["msg"]
        fix = f"a person needs id and name, and may have {', '.join(FIELDS[2:])}"
        raise source.error(line, f"{_who(i, entry)}: {said}: {fix}") from e


def _who(i: int, entry: Any) -> str:
    named = entry.get("id") if isinstance(entry, dict) else None
    return f"person {named}" if isinstance(named, str) else f"person number {i + 1}"


def _check_channels(
    source: _Source, i: int, person: Person, channels: Mapping[str, Channel]
) -> None:
    """Every channel the person names is installed."""
    for where, names in (("channels", person.channels), ("identities", list(person.identities))):
        for name in names:
            if name in channels:
                continue
            line = source.value_line(i, name) if where == "channels" else source.key_line(i, name)
            close = difflib.get_close_matches(name, list(channels), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise source.error(
                line,
                f"person {person.id}: unknown channel {name} in {where}:"
                f" {hint}the installed channels are {', '.join(sorted(channels))}",
            )


def _check_unique(source: _Source, people: list[Person]) -> None:
    """No id twice; no address for two people."""
    first: dict[str, int] = {}
    for i, person in enumerate(people):
        if person.id in first:
            raise source.error(
                source.key_line(i, "id"),
                f"duplicate person id {person.id} (also line {source.key_line(first[person.id], 'id')}):"
                " give each person their own id",
            )
        first[person.id] = i
    if shared := _shared(people):
        channel, address, owner, i = shared
        raise source.error(
            source.key_line(i, channel),
            f"the {channel} address {address} belongs to both {owner} and {people[i].id}:"
            " an address names one person; remove it from one of them",
        )


def _check_escalations(source: _Source, people: list[Person]) -> None:
    """Each escalate_to names a person in the file, or role:NAME of a role someone has."""
    ids = [p.id for p in people]
    roles = sorted({f"role:{r}" for p in people for r in p.roles})
    for i, person in enumerate(people):
        target = person.escalate_to
        if target is None or target in ids or target in roles:
            continue
        names = [*ids, *roles]
        known = ", ".join(names[:10]) + (f", … ({len(names) - 10} more)" if len(names) > 10 else "")
        raise source.error(
            source.key_line(i, "escalate_to"),
            f'person {person.id}: escalate_to = "{target}" names no one in this file:'
            f" give a person id or role:NAME of a role someone has ({known})",
        )


def _shared(people: list[Person]) -> tuple[str, str, str, int] | None:
    """The first address that names two people: (channel, address, first owner, index of the
    second), or None."""
    owner: dict[tuple[str, str], str] = {}
    for i, person in enumerate(people):
        for identity in person.identities.items():
            if identity in owner:
                channel, address = identity
                return channel, address, owner[identity], i
            owner[identity] = person.id
    return None


def shared_addresses(people: list[Person]) -> str:
    """Why the directory is ambiguous: an address that names two people; "" when none does."""
    if shared := _shared(people):
        channel, address, owner, i = shared
        return f"the {channel} address {address} belongs to both {owner} and {people[i].id}"
    return ""


def normalized(person: Person, channels: Mapping[str, Channel]) -> Person:
    """`person` with each address in its channel's one form (raises InvalidAddress)."""
    identities = normalize_identities(person.identities, channels)
    return person.model_copy(update={"identities": identities})
