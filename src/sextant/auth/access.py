"""Row-level access filters: Admins attach property filters to groups, and every query a user runs (through
the web app or with the user's personal API key) reads only the rows that pass all the filters of all the
user's groups. The rule, and why Admins are not exempt, is in docs/security.md."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sextant.auth import audit
from sextant.auth.errors import AccountError, NotFound
from sextant.auth.permissions import Principal
from sextant.insights.spec import Filter, PropertyFilter, problems
from sextant.metadata.models import AccessFilter, Group, GroupMember

_FILTER: TypeAdapter[Filter] = TypeAdapter(Filter)
_NO_VALUE = ("is_set", "not_set")


@dataclass(frozen=True)
class GroupFilter:
    """One access filter of a group, as the group's page lists it."""

    id: int
    filter: Filter


def effective_filters(session: Session, user_id: int) -> tuple[Filter, ...]:
    """The filters every query of the user gets: those of all its groups, combined with AND (a user in two
    restricted groups sees only rows that both allow), oldest first."""
    query = (
        select(AccessFilter.filter)
        .join(GroupMember, GroupMember.group_id == AccessFilter.group_id)
        .where(GroupMember.user_id == user_id)
        .order_by(AccessFilter.id)
    )
    return tuple(_FILTER.validate_python(stored) for stored in session.scalars(query))


def group_filters(sessions: sessionmaker[Session], group_id: int) -> list[GroupFilter]:
    query = select(AccessFilter).where(AccessFilter.group_id == group_id).order_by(AccessFilter.id)
    with sessions() as session:
        return [GroupFilter(row.id, _FILTER.validate_python(row.filter)) for row in session.scalars(query)]


def property_filter(kind: str, key: str, operator: str, value: str, group_type: str = "") -> PropertyFilter:
    """A property filter from the fields of a form: `in` takes comma-separated values, `is_set` and `not_set`
    take none. Raises AccountError saying what is wrong."""
    body: dict[str, object] = {"type": kind, "key": key.strip(), "operator": operator}
    if group_type.strip():
        body["group_type"] = group_type.strip()
    if operator == "in":
        body["value"] = [part.strip() for part in value.split(",") if part.strip()] or None
    elif operator not in _NO_VALUE:
        body["value"] = value.strip() or None
    try:
        return PropertyFilter.model_validate(body)
    except ValidationError as error:
        raise AccountError(f"invalid access filter: {problems(error, 'filter')}") from None


def add_group_filter(
    sessions: sessionmaker[Session], group_id: int, item: Filter, *, actor: Principal | str
) -> GroupFilter:
    stored = _FILTER.dump_python(item, mode="json", exclude_none=True)
    with sessions.begin() as session:
        group = _restrictable(session, group_id)
        row = AccessFilter(group_id=group.id, filter=stored, created_at=dt.datetime.now(dt.UTC))
        session.add(row)
        session.flush()
        audit.record(session, actor, "group.add_access_filter", f"group:{group.id}", group=group.name, filter=stored)
        return GroupFilter(row.id, item)


def remove_group_filter(
    sessions: sessionmaker[Session], group_id: int, filter_id: int, *, actor: Principal | str
) -> None:
    with sessions.begin() as session:
        group = _restrictable(session, group_id)
        row = session.get(AccessFilter, filter_id)
        if row is None or row.group_id != group_id:
            raise NotFound(f"the group {group.name!r} has no access filter with id {filter_id}")
        audit.record(
            session, actor, "group.remove_access_filter", f"group:{group.id}", group=group.name, filter=row.filter
        )
        session.delete(row)


def _restrictable(session: Session, group_id: int) -> Group:
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound(f"there is no group with id {group_id}")
    if group.builtin:
        # Everyone is in it, Admins included: such a filter would hide rows from every user at once.
        raise AccountError(
            f"{group.name} is built in and takes no access filters; make a group of the users to restrict"
        )
    return group
