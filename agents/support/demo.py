"""How the offline demo model plays the support agent."""

from __future__ import annotations

import re
from typing import Any

from core.models.demo import Block, not_approved, result_of, since_last_message

_ORDER = re.compile(r"#?(\d{5})\b")


def play(blocks: list[Block]) -> tuple[str, dict[str, Any]]:
    message, recent = since_last_message(blocks)
    text = " ".join(
        [message.body if message else ""] + [b.body for b in recent if b.tag == "human_answer"]
    )
    found = _ORDER.search(text)
    if found is None:
        if any(b.tag == "human_answer" for b in recent):
            return "reply", {
                "message": "I could not find an order number; please write again with it.",
                "outcome": "failure",
            }
        question = "Which order is this about? Please send the order number."
        if message and ":" in message.attrs.get("from", ""):
            # Not in the directory (`sms:+1555…`): they cannot answer a request, so ask in a
            # reply; their next message continues the conversation.
            return "reply", {"message": question}
        return "contact_human", {"question": question}
    order = result_of(recent, "lookup_order")
    if order is None:
        if any(b.tag == "error" and b.attrs.get("tool") == "lookup_order" for b in recent):
            return "reply", {"message": f"I could not find order {found[1]}.", "outcome": "failure"}
        return "lookup_order", {"order_id": found[1]}
    if "refund" not in text.lower():
        return "reply", {"message": f"Order {order['id']} ({order['item']}) is {order['status']}."}
    if why := not_approved(recent):  # final: said, never asked again
        return "reply", {
            "message": f"I'm sorry, the refund was not approved: {why}.",
            "outcome": "failure",
        }
    refund = result_of(recent, "issue_refund")
    if refund is None:
        amount = round(order["amount"] - order["refunded"], 2)
        return "issue_refund", {
            "order_id": order["id"],
            "amount": amount,
            "reason": message.body if message else "",
        }
    return "reply", {"message": f"Refunded {refund['amount']:.2f} for order {refund['order_id']}."}
