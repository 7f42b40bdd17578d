"""People: the directory of who may ask and answer, their roles, and their address on each channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from core.addresses import normalize_address
from core.service import Service
from core.store import Person
from core.web.deps import ServiceDep
from core.web.problems import ProblemError, problem_responses

router = APIRouter(prefix="/people", tags=["people"])

# No ":" in a name: a recipient "role:NAME" must never be mistaken for a person.
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class PersonFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    roles: list[Name] = Field([], examples=[["deploy-approver"]])
    escalate_to: Name | None = Field(None, description="Who is asked when this person is not.")
    channels: list[str] = Field(
        [], description="Where to reach this person first, best first.", examples=[["slack"]]
    )
    identities: dict[str, str] = Field(
        {},
        description="Channel → address: sms an E.164 number, email an address (kept lower case).",
        examples=[{"slack": "U0ALICE", "sms": "+15550100001", "email": "alice@example.com"}],
    )

    @field_validator("identities")
    @classmethod
    def _normalized(cls, identities: dict[str, str]) -> dict[str, str]:
        found = {}
        for channel, address in identities.items():
            try:
                found[channel] = normalize_address(channel, address)
            except ValueError as e:
                raise ValueError(f"{channel}: {e}") from None
        return found

    @field_validator("roles", "channels")
    @classmethod
    def _once_each(cls, names: list[str]) -> list[str]:
        return list(dict.fromkeys(names))

    @model_validator(mode="after")
    def _channels_reach(self) -> PersonFields:
        if missing := [c for c in self.channels if c not in self.identities]:
            raise ValueError(f"channels {missing} are listed but have no address in `identities`")
        return self

    def person(self, person_id: str) -> Person:
        return Person(id=person_id, **self.model_dump(exclude={"id"}))


class NewPerson(PersonFields):
    id: Name = Field(examples=["alice"])


class PersonUpdate(PersonFields):
    id: Name | None = Field(None, description="If given, the same as in the path.")


@router.get("", response_model=list[Person], summary="The people directory")
async def list_people(service: ServiceDep) -> list[Person]:
    return await service.app.store.people()


@router.get("/{person_id}", response_model=Person, responses=problem_responses(404))
async def show_person(person_id: str, service: ServiceDep) -> Person:
    person = await service.app.store.person(person_id)
    if person is None:
        raise ProblemError(404, f"there is no person {person_id}", kind="no-such-person")
    return person


@router.post(
    "",
    status_code=201,
    response_model=Person,
    responses=problem_responses(409, 422),
    summary="Add a person",
)
async def create_person(body: NewPerson, service: ServiceDep, response: Response) -> Person:
    if await service.app.store.person(body.id) is not None:
        raise ProblemError(
            409, f"{body.id} is already in the directory: PUT replaces", kind="person-exists"
        )
    person = await _save(service, body.person(body.id))
    response.headers["Location"] = f"/api/v1/people/{person.id}"
    return person


@router.put(
    "/{person_id}",
    response_model=Person,
    responses={201: {"model": Person, "description": "Created"}, **problem_responses(409, 422)},
    summary="Replace a person, or add them",
)
async def replace_person(
    person_id: Name, body: PersonUpdate, service: ServiceDep, response: Response
) -> Person:
    if body.id is not None and body.id != person_id:
        raise ProblemError(
            422, f"the body's id {body.id!r} is not the path's {person_id!r}", kind="id-mismatch"
        )
    if await service.app.store.person(person_id) is None:
        response.status_code = 201
    return await _save(service, body.person(person_id))


async def _save(service: Service, person: Person) -> Person:
    await _check_references(service, person)
    await service.app.store.save_people([person])
    return person


async def _check_references(service: Service, person: Person) -> None:
    """What a model cannot check alone: the channels exist, the others named exist, no one else
    has these addresses."""
    if unknown := [c for c in person.identities if c not in service.channels]:
        raise ProblemError(
            422,
            f"no channel named {', '.join(unknown)}; the channels are: {', '.join(service.channels)}",
            kind="unknown-channel",
        )
    if person.escalate_to == person.id:
        raise ProblemError(422, f"{person.id} cannot escalate to themself", kind="invalid-person")
    if person.escalate_to and await service.app.store.person(person.escalate_to) is None:
        raise ProblemError(
            422,
            f"escalate_to {person.escalate_to!r} is not in the people directory",
            kind="unknown-person",
        )
    for channel, address in person.identities.items():
        owner = await service.app.store.person_by_identity(channel, address)
        if owner is not None and owner.id != person.id:
            raise ProblemError(
                409,
                f"the {channel} address {address} belongs to {owner.id}",
                kind="address-taken",
                owner=owner.id,
            )
