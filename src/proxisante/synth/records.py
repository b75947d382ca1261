"""Administrative tables: sites, professionals, patients, coverage, médecin traitant declarations.

Why they matter beyond the clinic: the panel (patientèle médecin traitant), ALD, C2S and AME drive
the money (forfait médecin traitant, PEPS capitation weights, C2S supplements), so their dates are
as carefully drawn as the clinical events:

- coverage: one ALD row per exempted condition with its CIM-10 code and ALD number; C2S and AME as
  consecutive 12-month rights (one row per period, as attestations are recorded);
- médecin traitant declarations: a first declaration (before the extract for patients already
  followed), a new one when the patient chooses another GP of the centre, and when a GP leaves, a
  declaration of the successor for most patients, after a delay; the others declare a doctor
  elsewhere within a year. Until then the departing GP's declaration stays in force: a declaration
  ends when the patient declares someone else, not on the doctor's last day, so the panel thins out
  over months rather than losing a whole panel in one (an artificial month of ~1,000 departures).
"""

from __future__ import annotations

import numpy as np

from proxisante.synth.chunk import COVERAGE_TYPES, SEXES, Chunk
from proxisante.synth.frames import Arrays, Cat, Frame, concat, expand
from proxisante.synth.identities import patient_identities
from proxisante.synth.staff import Staff
from proxisante.synth.timeline import NEVER


def sites_table(staff: Staff) -> Frame:
    n = len(staff.site_id)
    return {
        "site_id": staff.site_id.astype(np.int64),
        "name": Cat.of(np.arange(n), [str(s) for s in staff.site_name]),
        "finess": Cat.of(np.arange(n), [str(s) for s in staff.site_finess]),
        "structure_type": Cat.of(np.zeros(n), ["CDS"]),
        "commune_insee": Cat.of(np.arange(n), [str(s) for s in staff.site_commune]),
        "postcode": Cat.of(
            np.where(staff.site_postcode != "", np.arange(n), -1), [str(s) for s in staff.site_postcode]
        ),
    }


def professionals_table(staff: Staff) -> Frame:
    n = len(staff.rpps)
    professions = sorted(set(staff.profession))
    return {
        "rpps": Cat.of(np.arange(n), [str(r) for r in staff.rpps]),
        "family_name": Cat.of(np.arange(n), [str(x) for x in staff.family_name]),
        "given_name": Cat.of(np.arange(n), [str(x) for x in staff.given_name]),
        "profession": Cat.of(np.array([professions.index(p) for p in staff.profession]), professions),
        "fte": staff.fte.astype(np.float64),
        "birth_year": staff.birth_year.astype(np.int64),
        "site_id": staff.site_id[staff.site].astype(np.int64),
        "start_date": staff.start,
        "end_date": staff.end,
    }


def patients_table(chunk: Chunk) -> Frame:
    communes = chunk.ctx.area.communes
    commune = chunk.cohort("commune")
    identity = patient_identities(
        chunk.params,
        chunk.rng("identities"),
        chunk.female,
        chunk.birth,
        communes.department[commune].astype(object),
        communes.postcode[commune].astype(object),
        communes.insee[commune].astype(object),
        chunk.ctx.end,
    )
    return {
        "patient_id": chunk.patient_id,
        "ins": identity["ins"],
        "nir": identity["nir"],
        "family_name": identity["family_name"],
        "birth_name": identity["birth_name"],
        "given_names": identity["given_names"],
        "birth_date": chunk.birth.astype(np.int64),
        "sex": Cat.of(chunk.female.astype(np.int32), SEXES),
        "address": identity["address"],
        "postcode": identity["postcode"],
        "commune_insee": identity["commune_insee"],
        "phone": identity["phone"],
        "death_date": chunk.death.astype(np.int64),
    }


def _periods(chunk: Chunk, start_name: str, periods_name: str, period: int, kind: int) -> Arrays:
    """One row per 12-month period of a right (C2S or AME), up to the patient's last day."""
    start = chunk.cohort(start_name)
    periods = chunk.cohort(periods_name)
    last = np.minimum(chunk.exit - 1, chunk.ctx.end)
    upto = np.where(periods > 0, np.minimum(periods, (last - start) // period + 1), 0)
    p, k = expand(np.maximum(upto, 0))
    begin = start[p] + k * period
    # A right still running on the extract's last day has no end date yet in the export (loaders
    # reject dates after the extract, and the renewal is not decided).
    finish = begin + period - 1
    return {
        "p": p,
        "start": begin.astype(np.int64),
        "end": np.where(finish > chunk.ctx.end, NEVER, finish).astype(np.int64),
        "type": np.full(len(p), kind, dtype=np.int64),
        "cim": np.full(len(p), -1, dtype=np.int64),
        "ald": np.full(len(p), -1, dtype=np.int64),
    }


def coverage_table(chunk: Chunk, ald: Arrays, first_id: int) -> Frame:
    period = chunk.params.value("insurance", "c2s_period_days")
    rows = [
        {
            "p": ald["p"],
            "start": ald["start"],
            "end": np.full(len(ald["p"]), NEVER, dtype=np.int64),
            "type": np.full(len(ald["p"]), COVERAGE_TYPES.index("ALD"), dtype=np.int64),
            "cim": ald["cim"].astype(np.int64),
            "ald": ald["ald"].astype(np.int64),
        }
        if ald
        else {},
        _periods(chunk, "c2s_start", "c2s_periods", period, COVERAGE_TYPES.index("C2S")),
        _periods(chunk, "ame_start", "ame_periods", period, COVERAGE_TYPES.index("AME")),
    ]
    frame = concat(rows)
    order = np.lexsort((frame["type"], frame["start"], frame["p"]))
    frame = {k: v[order] for k, v in frame.items()}
    n = len(order)
    return {
        "coverage_id": first_id + np.arange(n, dtype=np.int64),
        "patient_id": chunk.patient_id[frame["p"]],
        "coverage_type": Cat.of(frame["type"], COVERAGE_TYPES),
        "start_date": frame["start"],
        "end_date": frame["end"],
        "cim10": Cat.of(frame["cim"], chunk.ctx.vocab.cim10),
        "ald_number": frame["ald"],
    }


_SWITCH, _EXIT = 0, 2


def mt_declarations_table(chunk: Chunk, first_id: int) -> Frame:
    """Médecin traitant declarations, with the changes caused by patients and by departing GPs."""
    rng = chunk.rng("mt_declarations")
    mt = chunk.params.section("medecin_traitant")
    gp = chunk.gp()
    p = np.flatnonzero(chunk.cohort("has_mt"))
    start = chunk.cohort("mt_start")[p]
    switch = chunk.cohort("mt_switch")[p]
    switched = switch < NEVER
    exit_ = chunk.exit[p]
    segments = [
        (p, chunk.cohort("slot0")[p], start, np.where(switched, switch, exit_), np.where(switched, _SWITCH, _EXIT)),
        (
            p[switched],
            chunk.cohort("slot1")[p][switched],
            switch[switched],
            exit_[switched],
            np.full(switched.sum(), _EXIT),
        ),
    ]
    pieces = []
    for who, slot, x, y, ends in segments:
        h = gp.change[slot]
        a, b = gp.holder_a[slot], gp.holder_b[slot]
        after = h <= x
        pieces.append((who[after], b[after], x[after], y[after], ends[after]))
        # The holder leaves during the declaration: it stays in force until the patient declares again,
        # the successor (most) or a doctor elsewhere (the others), each after a delay from the departure.
        within = (h > x) & (h < y)
        successor = rng.random(len(who)) < mt["redeclare_after_departure"]["value"]
        delay = np.where(successor, mt["redeclare_delay_days"]["value"], mt["elsewhere_delay_days"]["value"])
        handover = h + np.floor(rng.random(len(who)) * delay).astype(np.int64)
        moved = within & (handover < y)
        last = np.where(moved, handover, y)
        pieces.append((who[within], a[within], x[within], last[within], np.where(moved, _SWITCH, ends)[within]))
        again = moved & successor
        pieces.append((who[again], b[again], handover[again], y[again], ends[again]))
        before = h >= y
        pieces.append((who[before], a[before], x[before], y[before], ends[before]))
    who = np.concatenate([q[0] for q in pieces])
    pro = np.concatenate([q[1] for q in pieces])
    begin = np.concatenate([q[2] for q in pieces])
    stop = np.concatenate([q[3] for q in pieces])
    ends = np.concatenate([q[4] for q in pieces])
    # A segment that ends the day it starts (a switch on the first day) declares nothing.
    keep = stop > begin
    who, pro, begin, stop, ends = (a[keep] for a in (who, pro, begin, stop, ends))
    died = chunk.death[who] < NEVER
    left = chunk.cohort("left")[who] & (rng.random(len(who)) < mt["leaver_end_known_share"]["value"])
    end = np.where(ends == _SWITCH, stop - 1, np.where(died | left, stop - 1, NEVER))
    order = np.lexsort((begin, who))
    n = len(order)
    return {
        "declaration_id": first_id + np.arange(n, dtype=np.int64),
        "patient_id": chunk.patient_id[who[order]],
        "rpps": Cat.of(pro[order], chunk.ctx.vocab.rpps),
        "start_date": begin[order].astype(np.int64),
        "end_date": end[order].astype(np.int64),
    }
