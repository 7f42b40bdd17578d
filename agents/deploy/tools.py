from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import col, select

from agents.deploy.tables import Deployment, Release
from core.tools import ToolContext, tool

Environment = Literal["staging", "production"]


class ReleaseRef(BaseModel):
    service: str = Field(description="service name, e.g. api")
    version: str = Field(description="release version, e.g. 2.4.1")


class DeployArgs(ReleaseRef):
    environment: Environment


class RollbackArgs(BaseModel):
    service: str = Field(description="service name, e.g. api")
    environment: Environment
    to_version: str = Field(description="the release to go back to, e.g. 2.4.0")


@tool(idempotent=True)
async def check_release(args: ReleaseRef, ctx: ToolContext) -> dict[str, object]:
    """Check that a release of a service exists; lists the known versions when it does not."""
    release = await ctx.data.get(Release, (args.service, args.version))
    if release is not None:
        return {
            "exists": True,
            "service": args.service,
            "version": args.version,
            "notes": release.notes,
        }
    known = await ctx.data.all(select(Release.version).where(col(Release.service) == args.service))
    return {
        "exists": False,
        "service": args.service,
        "version": args.version,
        "known_versions": known,
    }


@tool(idempotent=True, summary="deploy {service} {version} to {environment}")
async def deploy(args: DeployArgs, ctx: ToolContext) -> dict[str, object]:
    """Deploy a release to an environment. Production deploys need the on-call approver."""
    return await _put(ctx, args.service, args.version, args.environment, "deployed")


@tool(idempotent=True, summary="roll {service} in {environment} back to {to_version}")
async def rollback(args: RollbackArgs, ctx: ToolContext) -> dict[str, object]:
    """Roll a service in an environment back to an earlier release. Needs two approvers."""
    return await _put(ctx, args.service, args.to_version, args.environment, "rolled back")


async def _put(
    ctx: ToolContext, service: str, version: str, environment: str, status: str
) -> dict[str, object]:
    # Idempotent by key: a re-run after a crash finds the deployment the first run recorded.
    done = await ctx.data.all(
        select(Deployment).where(Deployment.idempotency_key == ctx.idempotency_key)
    )
    if done:
        return {"deployment_id": done[0].id, "status": f"already {status}"}
    release = await ctx.data.get(Release, (service, version))
    if release is None:
        raise ValueError(f"there is no release {service} {version}")
    ctx.data.add(
        Deployment(
            service=service,
            version=version,
            environment=environment,
            thread_id=ctx.thread_id,
            idempotency_key=ctx.idempotency_key,
            deployed_at=datetime.now(UTC),
        )
    )
    return {"status": status, "service": service, "version": version, "environment": environment}
