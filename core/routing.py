"""Where an outgoing message goes: pure functions from the directory and the open channels.

A reply goes back into the conversation its thread started in. A request goes to each recipient
(a role means every person who has it) on their preferred channel that is open here; an escalation
re-send takes the next one. An outcome updates every copy of its request that was sent.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from core.events import HumanRequested
from core.humans import why_not
from core.records import OutboxItem, OutboxMessage, Person, RequestInfo, ThreadInfo


def request_out(request: HumanRequested) -> list[OutboxMessage]:
    """A new request goes to its first recipient now, escalation adds the others later; an
    approval from distinct entries goes to each of them at once."""
    firsts = request.recipients if request.distinct_roles else request.recipients[:1]
    return [OutboxMessage.request(request.request_id, request.question, to=r) for r in firsts]


def expand(recipient: str, people: Iterable[Person]) -> list[Person]:
    """A person id, or `role:NAME` for everyone with that role."""
    if recipient.startswith("role:"):
        role = recipient.removeprefix("role:")
        return [p for p in people if role in p.roles]
    return [p for p in people if p.id == recipient]


def reply_route(
    item: OutboxItem,
    thread: ThreadInfo | None,
    requester: Person | None,
    last_sender: str,
    open_: Collection[str],
) -> tuple[list[OutboxMessage], str]:
    """A reply or notice: back into the thread's conversation, when it started on a channel.

    Addressed to the requester there, or, for someone outside the directory, to whoever wrote
    in the conversation last (a phone number, an email address).
    """
    if thread is None or thread.channel not in open_ or thread.conversation is None:
        where = thread.channel if thread else "nowhere"
        return [], f"the thread started on {where}: the reply is in its timeline"
    known = requester.identities.get(thread.channel) if requester else None
    address = known or last_sender
    return [
        OutboxMessage(
            recipient=requester.id if requester else None,
            channel=thread.channel,
            kind=item.kind,
            text=item.text,
            request_id=item.request_id,
            address=address,
            conversation=thread.conversation,
        )
    ], ""


def direct_route(
    item: OutboxItem,
    person: Person | None,
    open_: Collection[str],
    blocked: Collection[tuple[str, str]] = (),
) -> tuple[list[OutboxMessage], str]:
    """A notice for one person outside any thread (their sign-in link): to them directly, on
    their first preferred channel open here."""
    if person is None:
        return [], f"no one in the directory is {item.recipient}"
    channels = [
        c
        for c in person.preferred()
        if c in open_ and (c, person.identities.get(c, "")) not in blocked
    ]
    if not channels:
        return [], f"no open channel for {person.id}"
    return [
        OutboxMessage(
            recipient=person.id,
            channel=channels[0],
            kind=item.kind,
            text=item.text,
            address=person.identities[channels[0]],
        )
    ], ""


def request_route(
    item: OutboxItem,
    request: RequestInfo,
    thread: ThreadInfo | None,
    people: list[Person],
    open_: Collection[str],
    blocked: Collection[tuple[str, str]] = (),
) -> tuple[list[OutboxMessage], str]:
    """One copy per person the request is for, on their preferred open channel from `rank` on;
    a (channel, address) its owner opted out of is no channel of theirs."""
    targets = expand(item.recipient or "", people)
    if not targets:
        return [], f"no one in the directory is {item.recipient}"
    # Not asked: whoever may not decide it (the requester, under four eyes; one who approved).
    skipped = [p.id for p in targets if why_not(p, request)]
    targets = [p for p in targets if p.id not in skipped]
    if not targets:
        return (
            [],
            f"no one but {', '.join(skipped)} is {item.recipient}, and they may not decide it",
        )
    deliveries, missing = [], []
    for person in targets:
        channels = [
            c
            for c in person.preferred()
            if c in open_ and (c, person.identities.get(c, "")) not in blocked
        ]
        if item.rank >= len(channels):
            missing.append(person.id)
            continue
        channel = channels[item.rank]
        conversation = None
        # The requester is asked in the conversation they are having with the agent, if it is theirs.
        if (
            item.rank == 0
            and thread is not None
            and person.id == thread.requester
            and thread.channel in channels
        ):
            channel, conversation = thread.channel, thread.conversation
        deliveries.append(
            OutboxMessage(
                recipient=person.id,
                channel=channel,
                kind="request",
                text=request.question,
                request_id=request.id,
                address=person.identities[channel],
                conversation=conversation,
                rank=item.rank,
            )
        )
    why = ""
    if missing:
        what = "further" if item.rank else "open"
        why = f"no {what} channel for {', '.join(missing)}: the request waits in the console inbox"
    return deliveries, why


def outcome_route(item: OutboxItem, copies: list[OutboxItem], text: str) -> list[OutboxMessage]:
    """The outcome, shown on every copy of the request that reached someone."""
    return [
        OutboxMessage(
            recipient=copy.recipient,
            channel=copy.channel,
            kind="outcome",
            text=text,
            request_id=item.request_id,
            address=copy.address,
            conversation=copy.conversation,
            edit_of=copy.message_id,
        )
        for copy in copies
        if copy.kind == "request" and copy.status == "sent" and copy.message_id
    ]
