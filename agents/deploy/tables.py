"""The deploy bot's business state: releases that exist and deployments made. Only its tools write here."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Release(SQLModel, table=True):
    __tablename__ = "releases"

    service: str = Field(primary_key=True)
    version: str = Field(primary_key=True)
    notes: str = ""


class Deployment(SQLModel, table=True):
    __tablename__ = "deployments"

    id: int | None = Field(default=None, primary_key=True)
    service: str
    version: str
    environment: str
    thread_id: str
    idempotency_key: str = Field(unique=True)
    deployed_at: datetime
