"""`python -m bench.stamped`: `switchboard serve`, with every model call stamped on stdout.

The service, the HTTP app and the offline demo model are the real ones; the only difference from
`core.serve.serve` is a wrapper around each agent's model that prints `STAMP <time.time()>
<request id>` the moment a call is issued, before the model runs. The request id is the last
approval or answer in the call's context: the human response this call follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time

from core.agent import Agent
from core.models.base import Model, ModelRequest, ModelResponse
from core.settings import Settings

RESPONSE = re.compile(r'<(?:approval|human_answer) request="([^"]+)"')


class StampedModel:
    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self.name = inner.name

    async def complete(self, request: ModelRequest) -> ModelResponse:
        issued = time.time()  # first: the stamp is when the platform issued the call
        responses = RESPONSE.findall(request.context)
        sys.stdout.write(f"STAMP {issued:.6f} {responses[-1] if responses else '-'}\n")
        sys.stdout.flush()
        return await self.inner.complete(request)


async def serve(settings: Settings) -> None:
    import uvicorn

    from core.service import open_service
    from core.web.app import create_app

    async with open_service(settings, migrate=True) as service:
        runtime = service.app.runtime
        model_for = runtime.model_for

        def stamped(agent: Agent) -> Model:
            return StampedModel(model_for(agent))

        runtime.model_for = stamped
        config = uvicorn.Config(
            create_app(service),
            host=settings.switchboard_host,
            port=settings.switchboard_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        background = asyncio.create_task(service.run())
        try:
            await uvicorn.Server(config).serve()
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background


def main() -> None:
    import uvloop  # as `switchboard serve` runs

    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        runner.run(serve(Settings()))


if __name__ == "__main__":
    main()
