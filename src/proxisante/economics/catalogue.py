"""The parameter catalogue of the economic model: every tariff, rule and weight as dated data.

Each file of ``economics/parameters/`` holds named entries; an entry's full name is
``<file>.<key>`` (``tariffs.G``, ``fpmt.per_patient``). An entry is a list of ``[valid from, value]``
pairs (a null value: no longer in force), a label, a unit, a source, a confidence (``C`` confirmed
in the cited text, ``P`` partial or secondary source, ``U`` recalled or working value, *non
confirmé*) and, for an uncertain value, a range: ``range: [low, high]`` in the value's unit, or
``range_relative: [-0.1, 0.1]`` (a factor applied to every number of a table). Each file is read by
:class:`proxisante.definitions.ParameterFile`; values are read by date (:meth:`Parameter.at`) or
averaged over a calendar year, weighted by the days each value was in force (:meth:`Parameter.average`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources

from proxisante.definitions import CONFIDENCE_LABELS, DefinitionError, Parameter, ParameterFile

# Parameter and CONFIDENCE_LABELS are defined in definitions.py and re-exported for the economics modules.
__all__ = [
    "CONFIDENCE_LABELS",
    "Parameter",
    "catalogue",
    "markdown_table",
    "parameter",
    "tariff_of_code",
    "unconfirmed",
]

FOLDER = resources.files(__package__) / "parameters"


@cache
def catalogue() -> dict[str, Parameter]:
    """Every parameter of ``economics/parameters/*.yaml`` by full name (``file.key``), checked on read."""
    found: dict[str, Parameter] = {}
    for path in sorted(FOLDER.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".yaml"):
            continue
        stem = path.name.removesuffix(".yaml")
        for key, entry in ParameterFile(__package__, f"parameters/{path.name}").entries().items():
            missing = [field for field in ("label", "unit") if not getattr(entry, field)]
            if missing:
                raise DefinitionError(f"{path}: field {key}.{missing[0]}: Field required")
            found[f"{stem}.{key}"] = entry.model_copy(update={"name": f"{stem}.{key}"})
    return found


def parameter(name: str) -> Parameter:
    try:
        return catalogue()[name]
    except KeyError:
        raise KeyError(f"no economic parameter named {name!r}") from None


def tariff_of_code() -> dict[str, str]:
    """Act code → the tariff parameter that prices it (``G`` and ``GS`` → ``tariffs.G``)."""
    found = {}
    for name, p in catalogue().items():
        if name.startswith("tariffs."):
            for code in p.codes or [name.removeprefix("tariffs.")]:
                found[code] = name
    return found


def unconfirmed(names: Iterable[str] | None = None) -> list[Parameter]:
    """The parameters tagged ``U`` (of ``names`` when given), for the footnotes of every output."""
    chosen = catalogue().values() if names is None else [parameter(n) for n in names]
    return [p for p in chosen if p.unconfirmed]


def markdown_table() -> str:
    """The catalogue as the table of ``docs/parameters.md`` (kept in sync by a test)."""
    lines = [
        "| parameter | what | values (from) | unit | range | confidence | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, p in catalogue().items():
        source = " ".join(p.source.split()).replace("|", "/")
        lines.append(
            f"| `{name}` | {p.label} | {p.display_values()} | {p.unit} | {p.display_range()} "
            f"| {p.confidence} ({CONFIDENCE_LABELS[p.confidence]}) | {source} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(markdown_table())
