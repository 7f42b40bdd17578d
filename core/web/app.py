"""The ASGI app: channel webhooks, health, the REST API under /api/v1, and the console at /."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from pydantic import ValidationError

from core.channels import Forged, Inlet, Malformed, RawRequest, unpack
from core.service import Service

log = logging.getLogger("switchboard.http")


def create_app(service: Service) -> FastAPI:
    from core.web import api, console, health, openapi, problems
    from core.web.limits import BodyLimits, LimitBodies

    app = FastAPI(
        title="Switchboard",
        summary="Agents that work with people: threads, human requests and people.",
        version="1",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.service = service
    problems.install_problem_handlers(app)
    # Routes are matched in order, one by one: the platforms' webhooks and the API go first,
    # where a burst of inbound messages pays the least for matching.
    webhooks = [(path, c.codec) for c in service.channels.values() for path in c.codec.webhooks]
    for path, inlet in webhooks:
        app.add_api_route(path, _webhook(service, inlet), methods=["POST"], include_in_schema=False)
    app.include_router(api.router, prefix="/api/v1")
    app.include_router(health.router)
    app.include_router(console.router)
    console.mount_static(app)
    limits = BodyLimits.of(service.app.settings, [path for path, _ in webhooks])
    app.add_middleware(LimitBodies, limits=limits)
    openapi.install(
        app,
        limit=limits.api,
        known={"agents": list(service.app.agents), "channels": list(service.channels)},
        addresses={name: c.codec.address for name, c in service.channels.items()},
    )
    return app


def _webhook(service: Service, channel: Inlet):  # type: ignore[no-untyped-def]
    """Verify, parse, store, acknowledge: the model is never called while the platform waits."""

    async def receive(request: Request) -> Response:
        raw = RawRequest(
            url=str(request.url),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        try:
            items = unpack(channel, raw)
        except Forged as e:
            log.warning("%s webhook refused: %s", channel.name, e)
            return Response(f"forbidden: {e}", status_code=e.status)
        except Malformed as e:
            log.warning("%s webhook malformed: %s", channel.name, e)
            return Response(f"malformed: {e}", status_code=400)
        except ValidationError as e:  # the payload parsed, but a name in it breaks core/text's rule
            reason = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
            log.warning("%s webhook malformed: %s", channel.name, reason)
            return Response(f"malformed: {reason}", status_code=400)
        for item in items:
            await service.ingress.take(item)
        ack = channel.ack(raw, items)
        return Response(ack.body, status_code=ack.status, media_type=ack.content_type)

    return receive
