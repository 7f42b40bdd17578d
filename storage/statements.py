"""The statements every step and every resume run, prepared once per store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Dialect, bindparam, select, update
from sqlalchemy.sql.expression import ClauseElement

from storage.prepared import Prepared, insert_all
from storage.tables import (
    events,
    identities,
    inbox,
    model_calls,
    outbox,
    people,
    requests,
    threads,
)

_lease_is_free = (
    threads.c.lease_owner.is_(None)
    | (threads.c.lease_until < bindparam("b_now"))
    | (threads.c.lease_owner == bindparam("b_owner"))
)


class Statements:
    def __init__(self, dialect: Dialect) -> None:
        def prepare(statement: ClauseElement) -> Prepared:
            return Prepared(statement, dialect)

        # A step: the thread row moves on only from the seq the step saw (and, for a worker, only
        # while it holds the lease), so a concurrent writer makes the whole step fail.
        advance = (
            update(threads)
            .where(threads.c.id == bindparam("b_id"), threads.c.last_seq == bindparam("b_after"))
            .values(
                status=bindparam("status"),
                steps=bindparam("steps"),
                tokens=bindparam("tokens"),
                cost=bindparam("cost"),
                last_seq=bindparam("last_seq"),
                state=bindparam("state"),
                updated_at=bindparam("updated_at"),
            )
        )
        self.advance = prepare(advance)
        self.advance_leased = prepare(
            advance.where(threads.c.lease_owner == bindparam("b_owner")).values(
                lease_owner=bindparam("lease_owner"), lease_until=bindparam("lease_until")
            )
        )
        self.claim = prepare(
            update(threads)
            .where(threads.c.id == bindparam("b_id"), _lease_is_free)
            .values(lease_owner=bindparam("lease_owner"), lease_until=bindparam("lease_until"))
        )
        # The holder's heartbeat: only the owner extends its lease, expired or not, as long as no
        # one has claimed the thread since.
        self.renew = prepare(
            update(threads)
            .where(threads.c.id == bindparam("b_id"), threads.c.lease_owner == bindparam("b_owner"))
            .values(lease_until=bindparam("lease_until"))
        )
        self.release = prepare(
            update(threads)
            .where(threads.c.id == bindparam("b_id"), threads.c.lease_owner == bindparam("b_owner"))
            .values(lease_owner=None, lease_until=0.0)
        )
        thread_state = select(
            threads.c.agent, threads.c.requester, threads.c.state, threads.c.last_seq
        ).where(threads.c.id == bindparam("b_id"))
        self.thread_state = prepare(thread_state)
        # On PostgreSQL, an inbound message appending to a thread holds its row until it commits,
        # so a worker's step waits and then fails instead of the message (SQLite writes one at a
        # time anyway and renders no FOR UPDATE).
        self.thread_state_locked = prepare(thread_state.with_for_update())
        self.events_after = prepare(
            select(events.c.seq, events.c.type, events.c.tokens, events.c.data)
            .where(events.c.thread_id == bindparam("b_id"), events.c.seq > bindparam("b_after"))
            .order_by(events.c.seq)
        )
        self.thread = prepare(select(threads).where(threads.c.id == bindparam("b_id")))
        self.request = prepare(select(requests).where(requests.c.id == bindparam("b_id")))
        self.person = prepare(select(people).where(people.c.id == bindparam("b_id")))
        self.insert_thread = prepare(insert_all(threads))
        self.insert_events = prepare(insert_all(events))
        self.insert_model_call = prepare(insert_all(model_calls))
        self.insert_request = prepare(insert_all(requests))
        self.insert_outbox = prepare(insert_all(outbox, skip=("id",)))
        decision: dict[str, Any] = {
            "status": bindparam("status"),
            "decided_by": bindparam("decided_by"),
            "decided_via": bindparam("decided_via"),
            "acted_by": bindparam("acted_by"),
            "decided_at": bindparam("decided_at"),
            "answer": bindparam("answer"),
            "next_at": None,
        }
        open_request = (requests.c.id == bindparam("b_id"), requests.c.status == "open")
        # First decision wins: only an open request is settled; an approval, only for its arguments.
        self.settle = prepare(update(requests).where(*open_request).values(decision))
        self.settle_bound = prepare(
            update(requests)
            .where(*open_request, requests.c.arguments_hash == bindparam("b_hash"))
            .values(decision)
        )
        self.cancel_requests = prepare(
            update(requests)
            .where(requests.c.thread_id == bindparam("b_id"), requests.c.status == "open")
            .values(status="cancelled", decided_at=bindparam("decided_at"), next_at=None)
        )
        # The inbox: every inbound message runs these once.
        self.inbox_seen = prepare(
            select(inbox.c.id).where(
                inbox.c.channel == bindparam("b_channel"),
                inbox.c.external_id == bindparam("b_external_id"),
            )
        )
        self.person_by_identity = prepare(
            select(people)
            .join(identities, identities.c.person_id == people.c.id)
            .where(
                identities.c.channel == bindparam("b_channel"),
                identities.c.address == bindparam("b_address"),
            )
        )
        self.conversation_thread = prepare(
            select(threads)
            .where(
                threads.c.channel == bindparam("b_channel"),
                threads.c.conversation == bindparam("b_conversation"),
            )
            .order_by(threads.c.created_at.desc())
            .limit(1)
        )
        sent_here = (
            select(outbox.c.request_id)
            .where(
                outbox.c.channel == bindparam("b_channel"),
                outbox.c.conversation == bindparam("b_conversation"),
                outbox.c.recipient == bindparam("b_person"),
                outbox.c.kind == "request",
            )
            .scalar_subquery()
        )
        self.requests_sent_here = prepare(
            select(requests).where(requests.c.status == "open", requests.c.id.in_(sent_here))
        )
        self.insert_inbox = prepare(insert_all(inbox, skip=("id",)))
