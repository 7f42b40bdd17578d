"""The support agent's business state: orders, and the refunds its tools issued."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Order(SQLModel, table=True):
    __tablename__ = "orders"

    id: str = Field(primary_key=True)
    customer: str
    item: str
    amount: float
    status: str


class Refund(SQLModel, table=True):
    __tablename__ = "refunds"

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True)
    amount: float
    reason: str
    thread_id: str
    issued_at: datetime
