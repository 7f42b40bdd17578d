from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from agents.support.tables import Order, Refund
from core.tools import ToolContext, tool


class OrderRef(BaseModel):
    order_id: str = Field(description="the order number, e.g. 10042")


class RefundArgs(OrderRef):
    amount: float = Field(gt=0, description="amount to refund, in the order's currency")
    reason: str


@tool(idempotent=True)
async def lookup_order(args: OrderRef, ctx: ToolContext) -> dict[str, object]:
    """Look up an order: customer, item, amount, status, and how much was refunded already."""
    order = await ctx.data.get(Order, args.order_id.lstrip("#"))
    if order is None:
        raise ValueError(f"there is no order {args.order_id}")
    refunded = await ctx.data.all(
        select(func.coalesce(func.sum(Refund.amount), 0.0)).where(col(Refund.order_id) == order.id)
    )
    return {**order.model_dump(), "refunded": refunded[0]}


@tool()
async def issue_refund(args: RefundArgs, ctx: ToolContext) -> dict[str, object]:
    """Refund (part of) an order. Refunds above 100 need a support manager's approval."""
    order = await ctx.data.get(Order, args.order_id.lstrip("#"))
    if order is None:
        raise ValueError(f"there is no order {args.order_id}")
    if args.amount > order.amount:
        raise ValueError(f"cannot refund {args.amount:.2f}: the order was {order.amount:.2f}")
    ctx.data.add(
        Refund(
            order_id=order.id,
            amount=args.amount,
            reason=args.reason,
            thread_id=ctx.thread_id,
            issued_at=datetime.now(UTC),
        )
    )
    return {"status": "refunded", "order_id": order.id, "amount": args.amount}
