"""Attribution of each person to one structure of the network, on a date.

A person seen by several structures is one ``person_id``; network figures that count persons per
structure (who is responsible for whom) need each of them in exactly one structure. The rule is the
dated parameter ``attribution`` of ``network/parameters.yaml`` (confidence U): the structure of the
médecin traitant declaration in force on the date, else the one with the most contacts over the
window before it, then the most recent contact, then the smallest FINESS. Every person of the
warehouse gets exactly one structure, so the attributed views of the structures partition the network.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from proxisante.definitions import ParameterFile
from proxisante.warehouse.expr import count_true
from proxisante.warehouse.tables import Tables

PARAMETERS = ParameterFile(__package__)

# Why a person is attributed to its structure, as the French outputs say it.
RULES = {"mt": "déclaration de médecin traitant", "contacts": "contacts récents", "last": "dernier contact"}


def window_start(on: dt.date) -> dt.date:
    """The first day of the contact window ending on ``on`` (``contact_window_months`` before it)."""
    months = int(PARAMETERS.parameter("attribution").at(on)["contact_window_months"])
    return (pd.Timestamp(on) - pd.DateOffset(months=months)).date() + dt.timedelta(days=1)


def attribution(tables: Tables, on: dt.date) -> ir.Table:
    """One row per person of ``tables``: ``person_id``, ``structure`` (its FINESS, null for loads made
    without one), ``rule`` (a key of :data:`RULES`), ``contacts`` (in the window)."""
    candidates = tables.table("person").select("person_id", "structure").distinct()
    declared = _declarations(tables, on)
    contacts = _contacts(tables, on)
    joined = candidates.left_join(declared, ["person_id", "structure"]).select("person_id", "structure", "mt_start")
    joined = joined.left_join(contacts, ["person_id", "structure"]).select(
        "person_id", "structure", "mt_start", "contacts", "last_contact"
    )
    joined = joined.mutate(contacts=joined.contacts.fill_null(0))
    order = [
        joined.mt_start.isnull().asc(),
        joined.mt_start.desc(),
        joined.contacts.desc(),
        joined.last_contact.desc(nulls_first=False),
        joined.structure.asc(nulls_first=False),
    ]
    ranked = joined.mutate(_rank=ibis.row_number().over(group_by=joined.person_id, order_by=order))
    chosen = ranked.filter(ranked._rank == 0)
    rule = ibis.cases((chosen.mt_start.notnull(), "mt"), (chosen.contacts > 0, "contacts"), else_="last")
    return chosen.select("person_id", "structure", rule=rule, contacts=chosen.contacts)


def _declarations(tables: Tables, on: dt.date) -> ir.Table:
    """Per person and structure: the start of the latest médecin traitant declaration in force on ``on``."""
    mt = tables.table("fr_mt_declaration")
    active = mt.filter((mt.start_date <= on) & (mt.end_date.isnull() | (mt.end_date >= on)))
    return active.group_by("person_id", "structure").aggregate(mt_start=active.start_date.max())


def _contacts(tables: Tables, on: dt.date) -> ir.Table:
    """Per person and structure: encounters over the window ending on ``on``, and the last one before it."""
    start = window_start(on)
    visits = tables.table("visit_occurrence")
    past = visits.filter(visits.visit_start_date <= on)
    return past.group_by("person_id", "structure").aggregate(
        contacts=count_true(past.visit_start_date >= start), last_contact=past.visit_start_date.max()
    )
