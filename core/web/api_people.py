"""People: the directory of who may ask and answer, their roles, and their address on each channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.channels import InvalidAddress
from core.errors import NotFound
from core.people import normalized
from core.records import Person
from core.service import Service
from core.web.deps import ServiceDep
from core.web.fields import Label, Name, PathId, PersonId, address_forms, choices, findable
from core.web.problems import ProblemError, problem_responses, unprocessable

router = APIRouter(prefix="/people", tags=["people"])

ChannelName = Annotated[Name, Field(json_schema_extra=choices("channels"))]


class PersonFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Label = Field(examples=["Alice"])
    roles: list[PersonId] = Field([], examples=[["deploy-approver"]])
    escalate_to: PersonId | None = Field(None, description="Who is asked when this person is not.")
    channels: list[ChannelName] = Field(
        [], description="Where to reach this person first, best first."
    )
    identities: dict[ChannelName, Label] = Field(
        {},
        description="Channel → the person's address there, in the form stated for the channel"
        " (kept in that channel's one form: a phone number without spaces, say).",
        json_schema_extra=address_forms(),
    )

    @field_validator("roles", "channels")
    @classmethod
    def _once_each(cls, names: list[str]) -> list[str]:
        return list(dict.fromkeys(names))

    def person(self, person_id: str) -> Person:
        return Person(id=person_id, **self.model_dump(exclude={"id"}))


class NewPerson(PersonFields):
    id: PersonId = Field(examples=["alice"])


class PersonUpdate(PersonFields):
    id: PersonId | None = Field(None, description="If given, the same as in the path.")


@router.get("", response_model=list[Person], summary="The people directory")
async def list_people(service: ServiceDep) -> list[Person]:
    return await service.app.store.people()


@router.get("/{person_id}", response_model=Person, responses=problem_responses(404))
async def show_person(person_id: PathId, service: ServiceDep) -> Person:
    person = await service.app.store.person(person_id) if findable(person_id) else None
    if person is None:
        raise NotFound("person", person_id)
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
    person_id: PersonId, body: PersonUpdate, service: ServiceDep, response: Response
) -> Person:
    if body.id is not None and body.id != person_id:
        raise unprocessable(
            f"the body's id {body.id!r} is not the path's {person_id!r}",
            kind="id-mismatch",
            at=("body", "id"),
        )
    if await service.app.store.person(person_id) is None:
        response.status_code = 201
    return await _save(service, body.person(person_id))


async def _save(service: Service, person: Person) -> Person:
    try:
        person = normalized(person, service.channels)
    except InvalidAddress as e:
        raise unprocessable(
            str(e), kind="invalid-address", at=("body", "identities", e.channel)
        ) from e
    await _check_references(service, person)
    await service.app.store.save_people([person])
    return person


async def _check_references(service: Service, person: Person) -> None:
    """What a model cannot check alone: the channels exist, the others named exist, no one else
    has these addresses."""
    if unknown := [c for c in [*person.identities, *person.channels] if c not in service.channels]:
        raise unprocessable(
            f"no channel named {', '.join(dict.fromkeys(unknown))}; the channels are: {', '.join(service.channels)}",
            kind="unknown-channel",
            at=("body", "identities" if unknown[0] in person.identities else "channels"),
        )
    if missing := [c for c in person.channels if c not in person.identities]:
        raise unprocessable(
            f"channels {missing} are listed but have no address in `identities`",
            kind="invalid-person",
            at=("body", "channels"),
        )
    if person.escalate_to == person.id:
        raise unprocessable(
            f"{person.id} cannot escalate to themself",
            kind="invalid-person",
            at=("body", "escalate_to"),
        )
    if person.escalate_to and await service.app.store.person(person.escalate_to) is None:
        raise unprocessable(
            f"escalate_to {person.escalate_to!r} is not in the people directory",
            kind="unknown-person",
            at=("body", "escalate_to"),
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
