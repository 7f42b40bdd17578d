"""Statements on the per-step path: compiled once per dialect, executed on the DBAPI cursor.

SQLAlchemy builds and type-processes the SQL; skipping its per-execute machinery (result objects,
cache lookups, events) on the few statements every step runs halves the store's cost per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from sqlalchemy import Dialect, Table, bindparam, insert
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


class Prepared:
    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = compiled.string
        self._order: list[str] | None = (
            list(compiled.positiontup or ()) if compiled.positional else None
        )
        self._processors: dict[str, Callable[[Any], Any]] = {}
        self._literals: dict[str, Any] = {}  # values written into the statement, like status="open"
        self._dialect = dialect
        self._selected = list(getattr(statement, "selected_columns", ()))
        self._columns: list[tuple[str, Callable[[Any], Any] | None]] | None = None
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors[name] = processor
            if not bind.required:
                self._literals[name] = bind.effective_value

    def params(self, values: Mapping[str, Any]) -> Any:
        if self._literals:
            values = {**self._literals, **values}
        processors = self._processors
        if processors:
            values = {k: processors[k](v) if k in processors else v for k, v in values.items()}
        if self._order is None:
            return dict(values)
        return tuple(values[name] for name in self._order)

    def execute(self, cursor: Any, values: Mapping[str, Any]) -> int:
        cursor.execute(self.sql, self.params(values))
        rowcount: int = cursor.rowcount
        return rowcount

    def fetch(self, cursor: Any, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows of a SELECT, as dicts of Python values (JSON parsed, datetimes built)."""
        cursor.execute(self.sql, self.params(values))
        if self._columns is None:  # result processors want the driver's type codes: known now
            self._columns = [
                (c.name, c.type.dialect_impl(self._dialect).result_processor(self._dialect, d[1]))
                for c, d in zip(self._selected, cursor.description, strict=True)
            ]
        columns = self._columns
        return [
            {
                name: process(v) if process else v
                for (name, process), v in zip(columns, row, strict=True)
            }
            for row in cursor.fetchall()
        ]

    def execute_many(self, cursor: Any, rows: Iterable[Mapping[str, Any]]) -> None:
        cursor.executemany(self.sql, [self.params(row) for row in rows])


def insert_all(table: Table, *, skip: tuple[str, ...] = ()) -> ClauseElement:
    """An INSERT of every column but those skipped (generated keys), each bound by its name."""
    return insert(table).values(
        {c.name: bindparam(c.name) for c in table.columns if c.name not in skip}
    )
