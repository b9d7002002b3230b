"""Server-side sorting of the statistics and flow tables (``?sort=<column>&order=asc|desc``).

Sorting on the server keeps the tables sortable without JavaScript and makes a sorted table a
link that can be shared. Columns are declared as data: a key, a title and how to read the value.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    value: Callable[[dict], Any]
    numeric: bool = True
    # Numbers read best largest first, names in their natural order.
    first_order: str = "desc"


def address_key(text: str | None) -> tuple:
    """Addresses in numeric order (IPv4 before IPv6), anything else after them as text."""
    if not text:
        return (9, 0, "")
    try:
        ip = ipaddress.ip_address(text)
        return (ip.version, int(ip), "")
    except ValueError:
        pass
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        try:
            ip = ipaddress.ip_address(host)
            return (ip.version, int(ip), int(port))
        except ValueError:
            pass
    return (8, 0, text)


def sort_rows(rows: list[dict], columns: list[Column], sort: str | None, order: str | None) -> tuple[list[dict], str | None, str]:
    """``rows`` sorted by column ``sort`` (unknown names keep the given order)."""
    column = next((c for c in columns if c.key == sort), None)
    if column is None:
        return rows, None, "asc"
    order = order if order in ("asc", "desc") else column.first_order

    # Missing values (a flow without a handshake has no RTT) sort last in either order.
    present = [r for r in rows if column.value(r) is not None]
    missing = [r for r in rows if column.value(r) is None]
    present.sort(key=column.value, reverse=order == "desc")
    return present + missing, column.key, order


def header_links(columns: list[Column], sort: str | None, order: str, url: Callable[[str, str], str]) -> list[dict]:
    """One header per column: its title, the link that sorts by it, and its aria-sort state."""
    out = []
    for c in columns:
        if c.key == sort:
            next_order = "asc" if order == "desc" else "desc"
            state = "ascending" if order == "asc" else "descending"
        else:
            next_order, state = c.first_order, None
        out.append({"key": c.key, "title": c.title, "numeric": c.numeric, "href": url(c.key, next_order),
                    "aria_sort": state})
    return out
