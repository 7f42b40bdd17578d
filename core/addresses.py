"""A person's address on a channel, in the one form the inbox looks it up by."""

from __future__ import annotations

import re

E164 = re.compile(r"\+[1-9]\d{6,14}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalize_address(channel: str, address: str) -> str:
    """`sms`: an E.164 number (spaces, dots, dashes and brackets dropped); `email`: lower case."""
    address = address.strip()
    if not address:
        raise ValueError(f"the {channel} address is empty")
    match channel:
        case "sms":
            number = re.sub(r"[\s().-]", "", address)
            if not E164.fullmatch(number):
                raise ValueError(f"{address!r} is not an E.164 phone number like +15550100001")
            return number
        case "email":
            if not EMAIL.fullmatch(address):
                raise ValueError(f"{address!r} is not an email address")
            return address.lower()
    return address
