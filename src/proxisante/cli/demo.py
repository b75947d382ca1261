"""``proxisante synth`` (a synthetic centre) and ``proxisante demo`` (that centre generated, loaded, measured
and served, with a demo login)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from proxisante.cli.common import console, number, percent, print_row_counts, progress_bar
from proxisante.cli.ingest import load, print_report
from proxisante.cli.warehouse import status
from proxisante.installation import open_installation

if TYPE_CHECKING:
    from proxisante.synth.network import NetworkSummary

DEMO_PATIENTS = 20_000
DEMO_SEED = 2026
DEMO_PERIOD = "2025"
DEMO_USER = "demo"
DEMO_PASSWORD = "Demo-proxisante-2026!"  # synthetic data only: printed by the demo


def synth(
    out: Annotated[Path, typer.Option(help="dossier de sortie (format pivot ou FHIR NDJSON)")],
    patients: Annotated[
        int, typer.Option(help="nombre de patients (avec --network : en tout, répartis entre les structures)")
    ] = DEMO_PATIENTS,
    seed: Annotated[int, typer.Option(help="graine (même graine, mêmes fichiers)")] = DEMO_SEED,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv (par défaut), parquet ou fhir (NDJSON)")
    ] = None,
    defects: Annotated[bool, typer.Option(help="injecter les défauts des exports réels")] = False,
    network: Annotated[
        int | None,
        typer.Option(
            "--network",
            help="un réseau de N structures (CDS et MSP voisins) : registre structures.yaml et dépôts depot/<FINESS>/",
        ),
    ] = None,
    sizes: Annotated[
        str | None,
        typer.Option(help="avec --network : le nombre de patients de chaque structure, séparés par des virgules"),
    ] = None,
) -> None:
    """Génère un centre de santé synthétique réaliste au format pivot, ou un réseau de structures (--network)."""
    if network is None:
        if sizes is not None:
            console.print("[red]--sizes ne s'emploie qu'avec --network[/red]")
            raise typer.Exit(code=1)
        _synthesise(out, patients, seed, file_format or "csv", defects)
        return
    if file_format is not None or defects:
        console.print(
            "[red]--format et --defects ne s'emploient pas avec --network :[/red] chaque structure exporte par sa "
            "propre source, avec son format et ses défauts (parameters.yaml du générateur, section network)"
        )
        raise typer.Exit(code=1)
    try:
        per_structure = tuple(int(x) for x in sizes.split(",")) if sizes else None
    except ValueError:
        console.print(
            f"[red]--sizes : des nombres de patients séparés par des virgules sont attendus, pas « {sizes} »[/red]"
        )
        raise typer.Exit(code=1) from None
    try:
        _synthesise_network(out, network, patients, seed, per_structure)
    except ValueError as error:
        console.print(f"[red]Réseau synthétique impossible :[/red] {error}")
        raise typer.Exit(code=1) from None


def _synthesise(out: Path, patients: int, seed: int, file_format: str, defects: bool) -> None:
    from proxisante.synth import SynthOptions, generate_centre

    options = SynthOptions(patients=patients, seed=seed, out=out, file_format=file_format, defects=defects)
    with progress_bar() as progress:
        task = progress.add_task("Génération des patients", total=patients)
        summary = generate_centre(options, progress=lambda table, rows, done: progress.update(task, completed=done))
        progress.update(task, completed=patients)
    print_row_counts(f"Centre synthétique — {out}", summary.rows)


def _synthesise_network(
    out: Path, structures: int, patients: int, seed: int, sizes: tuple[int, ...] | None = None
) -> NetworkSummary:
    """A synthetic network written to ``out`` (registry and drop folders), with a progress bar and its table."""
    from rich.table import Table

    from proxisante.synth.network import DEPOT, REGISTRY_FILE, NetworkOptions, generate_network, plan_network

    options = NetworkOptions(structures=structures, patients=patients, seed=seed, out=out, sizes=sizes)
    total = sum(p.patients for p in plan_network(options))
    with progress_bar() as progress:
        task = progress.add_task(f"Génération de {structures} structures", total=total)
        summary = generate_network(options, progress=lambda i, table, rows, done: progress.update(task, completed=done))
        progress.update(task, completed=total)
    table = Table(title=f"Réseau synthétique — {out}")
    for column in ("FINESS", "structure", "type", "patients", "vus ici, suivis ailleurs", "export"):
        table.add_column(column, justify="right" if column in ("patients", "vus ici, suivis ailleurs") else "left")
    for plan in summary.plans:
        source = plan.source
        export = f"{source.file_format} {source.encoding}" if source.file_format == "csv" else source.file_format
        if source.defect_rate is not None:
            export += f", défauts {percent(source.defect_rate, 2)}"
        table.add_row(
            plan.finess,
            plan.name,
            plan.kind,
            number(plan.patients),
            number(summary.shared_by_structure.get(plan.finess, 0)),
            export,
        )
    console.print(table)
    console.print(
        f"{number(summary.persons)} personnes, dont {number(summary.shared)} vues par deux structures "
        f"({percent(summary.shared_share, 1)}). Registre : [bold]{out / REGISTRY_FILE}[/bold] ; "
        f"dépôts : [bold]{out / DEPOT}[/bold] (à copier dans le dossier de données, avec le registre dans "
        "reseau/structures.yaml)"
    )
    return summary


def demo(
    patients: Annotated[int, typer.Option(help="taille du centre de démonstration")] = DEMO_PATIENTS,
    seed: Annotated[int, typer.Option(help="graine")] = DEMO_SEED,
    serve_web: Annotated[bool, typer.Option("--serve/--no-serve", help="servir ensuite le tableau de bord")] = True,
    port: Annotated[int, typer.Option(help="port du tableau de bord")] = 8000,
    network: Annotated[
        int,
        typer.Option(
            "--network",
            help="un réseau synthétique de N structures (patients répartis entre elles), inscrites au registre "
            "et chargées par leurs dossiers de dépôt",
        ),
    ] = 0,
) -> None:
    """Génère le centre de démonstration, le charge, affiche l'état de l'entrepôt et sert le tableau de bord."""
    from proxisante.settings import get_settings

    if network:
        _demo_network(network, patients, seed)
    else:
        out = get_settings().home_dir / "demo" / f"centre-{patients}-{seed}"
        if not (out / "patients.csv").exists():
            _synthesise(out, patients, seed, "csv", defects=False)
        print_report(load(out, source="demo"))
    status()
    _demo_indicators("du réseau de démonstration" if network else "du centre de démonstration")
    _demo_login(port)
    if serve_web:
        from proxisante.cli.web import run_server

        run_server("127.0.0.1", port)


def _demo_network(structures: int, patients: int, seed: int) -> None:
    """The synthetic network as its members would send it: each structure registered (once), each extract
    copied into its drop folder (once: a later demo finds them archived), then the drop folders processed."""
    from proxisante.cli.depot import process_and_print
    from proxisante.ingest.dropfolders import depot_root
    from proxisante.network.structures import StructureRegistry
    from proxisante.settings import get_settings
    from proxisante.synth.network import DEPOT, REGISTRY_FILE

    settings = get_settings()
    out = settings.home_dir / "demo" / f"reseau-{structures}-{patients}-{seed}"
    if not (out / REGISTRY_FILE).exists():
        _synthesise_network(out, structures, patients, seed)
    registry = StructureRegistry.installed(settings)
    known = {s.finess for s in registry.all()}
    for structure in StructureRegistry(out / REGISTRY_FILE).all():
        if structure.finess not in known:
            registry.add(structure, by="demo")
    deposited = out / ".deposes"
    if not deposited.exists():
        root = depot_root(settings)
        for extract in sorted((out / DEPOT).glob("*/*")):
            target = root / extract.parent.name / extract.name
            hidden = target.with_name(f".{extract.name}.copie")  # the scan skips hidden names while copying
            shutil.rmtree(hidden, ignore_errors=True)
            shutil.copytree(extract, hidden)
            hidden.rename(target)
        deposited.touch()
    process_and_print(settings)


def _demo_login(port: int) -> None:
    """The demo login (coordinateur and gestionnaire: separation of duties keeps admin apart from the roles
    that read names), created once; its password is printed because the data is synthetic."""
    from proxisante.settings import get_settings
    from proxisante.web.security.accounts import AccountStore

    store = AccountStore(get_settings().accounts)
    if store.get(DEMO_USER) is None:
        store.add(DEMO_USER, DEMO_PASSWORD, ["coordinateur", "gestionnaire"], display_name="Démonstration")
    console.print(
        f"Tableau de bord : [bold]http://127.0.0.1:{port}/[/bold] — identifiant [bold]{DEMO_USER}[/bold], "
        f"mot de passe [bold]{DEMO_PASSWORD}[/bold] (centre synthétique ; ne pas réutiliser)"
    )


def _demo_indicators(whose: str) -> None:
    """The indicator table of the demo centre for the last full year of its data."""
    from proxisante.cli.measures import print_measure_table
    from proxisante.measures.definition import library
    from proxisante.measures.periods import parse_period
    from proxisante.measures.results import run
    from proxisante.network.scope import Scope, ScopedTables

    period = parse_period(DEMO_PERIOD)
    installation = open_installation()
    try:
        result = run(ScopedTables(installation.warehouse, Scope.network()), period)
    finally:
        installation.close()
    print_measure_table(result.table, list(library().values()), f"Indicateurs {whose} — {period.label}")
