"""``talentmatch train``, ``evaluate`` and ``rank``: the data team's runs (``matcher.workflow``) and one need's
ranking (``matcher.pipeline.rank``) on indices built with ``--encoder`` (default TALENTMATCH_ENCODER)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from service.cli.common import (
    EncoderOption,
    JsonOption,
    UrlOption,
    WorldOption,
    champion_for,
    database_errors,
    encoder_name,
    fail,
    indices_for,
    load_records,
    open_store,
    out,
    print_json,
    progress_bar,
    settings,
)

SeedOption = Annotated[int, typer.Option("--seed", min=0, help="Seed of the need split and the model.")]
LabelsOption = Annotated[
    str,
    typer.Option(
        "--labels",
        help="Grades per feedback action, overriding the defaults "
        "(hire=4,offer=3,interview=3,contact=2,shortlist=1,view=0,impression=0,reject=0), e.g. 'view=1,contact=3'.",
    ),
]


UnexaminedOption = Annotated[
    str | None,
    typer.Option(
        "--unexamined",
        help="A talent shown but never opened: 'negative' (a 0 like a reject), 'exclude' or 'weight' (a 0 weighted "
        "by the chance it was examined at its position). Default: see README, Training.",
    ),
]
ContextWeightOption = Annotated[
    float | None,
    typer.Option("--context-weight", min=0.0, max=1.0, help="Weight of retrieved talents never shown (0 drops)."),
]
DebiasOption = Annotated[
    str | None,
    typer.Option("--debias", help="Position debiasing: 'none', 'position' (LightGBM) or 'ipw' (inverse weights)."),
]
ViewGradeOption = Annotated[
    int | None,
    typer.Option("--view-grade", min=0, max=1, help="Training grade of a talent viewed but never judged (0 or 1)."),
]
"""The label-treatment options of ``train`` and ``retrain`` (read together by ``treatment_of``)."""
LinkPeopleOption = Annotated[
    bool,
    typer.Option(
        "--link-people/--no-link-people",
        help="With --world: link the world's talent records into persons (features.people.link, as `people link`) "
        "and train and evaluate per person; without it a world is trained per record. A database (--url) always "
        "uses its stored people (`people link --apply`).",
    ),
]
RequireOnlineWinOption = Annotated[
    bool,
    typer.Option(
        "--require-online-win",
        help="A model that beats the champion offline becomes challenger, not champion: it is promoted after an "
        "online win (`talentmatch models promote V --require-online-win`).",
    ),
]


def treatment_of(
    unexamined: str | None, context_weight: float | None, debias: str | None, view_grade: int | None
) -> Any:
    """The ``LabelTreatment`` of the label-treatment options, the defaults filling those not given; a bad value is a
    usage error."""
    from matcher.train import DEFAULT_TREATMENT, LabelTreatment

    d = DEFAULT_TREATMENT
    try:
        return LabelTreatment(
            unexamined if unexamined is not None else d.unexamined,
            context_weight if context_weight is not None else d.context_weight,
            debias if debias is not None else d.debias,
            view_grade if view_grade is not None else d.view_grade,
        )
    except ValueError as e:
        raise typer.BadParameter(str(e).removeprefix("train: ")) from None


def journal_of(url: str | None) -> tuple[str, int]:
    """(identity, change-journal head) of the database: logged by ``train --url`` as its feedback watermark."""
    store = open_store(url)
    with database_errors(store):
        store.check_schema()
        return store.identity(), store.change_head()


def persons_of(world: Path | None, url: str | None, records: dict[str, list], link_people: bool) -> dict[str, str]:
    """Talent id → person id of the records that share their person with another: the database's stored people,
    or with ``--world --link-people`` the world's records linked by ``features.people.link`` (a world's own people
    file, kept for evaluating linkage, is never read). Empty: per record."""
    if world is None:
        from service.people import person_map

        store = open_store(url)
        with database_errors(store):
            return person_map(store)
    if not link_people:
        return {}
    from features.people import link

    linkage = link(records.get("talent", []))
    return {t: p for p, ts in linkage.people().items() if len(ts) > 1 for t in ts}


def truth_of(world: Path | None) -> Any:
    from matcher.truth import load_truth

    return load_truth(world, missing_ok=True) if world is not None else None


def label_map_of(labels: str) -> dict[str, int]:
    from matcher.labels import parse_label_map

    try:
        return parse_label_map(labels)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--labels") from None


def metrics_table(title: str, metrics: dict[str, dict]) -> Table:
    names = ["ndcg@5", "ndcg@10", "ndcg@20", "map", "mrr", "recall@10", "recall@300"]
    table = Table(title=title)
    table.add_column("model")
    for n in names:
        table.add_column(n, justify="right")
    for model, values in metrics.items():
        table.add_row(model, *(f"{values[n]:.3f}" if n in values else "" for n in names))
    return table


def train_command(
    world: WorldOption = None,
    url: UrlOption = None,
    labels: LabelsOption = "",
    margin: Annotated[
        float, typer.Option("--margin", min=0.0, help="NDCG@10 a new model must gain to be champion.")
    ] = 0.0,
    dask: Annotated[
        str | None, typer.Option("--dask", help="Train on Dask: 'local' (a 2-worker LocalCluster) or tcp://HOST:PORT.")
    ] = None,
    unexamined: UnexaminedOption = None,
    context_weight: ContextWeightOption = None,
    debias: DebiasOption = None,
    view_grade: ViewGradeOption = None,
    require_online_win: RequireOnlineWinOption = False,
    encoder: EncoderOption = None,
    link_people: LinkPeopleOption = False,
    seed: SeedOption = 0,
    json_: JsonOption = False,
) -> None:
    """Train LambdaRank from feedback, evaluate it against baselines, log to MLflow, gate the champion.

    Feedback teaches about people: on a database, feedback on any record of a stored person grades the person
    (`people link --apply`); on a world folder only with --link-people."""
    from matcher.workflow import train_and_register

    label_map = label_map_of(labels)
    treatment = treatment_of(unexamined, context_weight, debias, view_grade)
    journal = None if world is not None else journal_of(url)  # read before the records: `retrain`'s watermark
    records = load_records(world, url)
    persons = persons_of(world, url, records, link_people)
    idx = indices_for(records, encoder_name(encoder), json_)
    with progress_bar(not json_) as progress:
        task = progress.add_task("training", total=None)
        try:
            summary = train_and_register(
                idx,
                records.get("feedback", []),
                truth=truth_of(world),
                label_map=label_map,
                margin=margin,
                require_online_win=require_online_win,
                dask=dask,
                treatment=treatment,
                random_state=seed,
                journal=journal,
                progress=lambda stage: progress.update(task, description=f"training: {stage}"),
                persons=persons,
            )
        except ValueError as e:
            fail(str(e))
    if json_:
        print_json(summary)
        return
    against = "the hidden truth" if summary["truth_based"] else "held-out feedback"
    per = f"one card per person, {summary['persons']} of 2+ records" if summary["persons"] else "per record"
    out.print(metrics_table(f"held-out needs, against {against} ({per})", summary["metrics"]))
    alias = summary["alias"] or "no alias"
    out.print(f"registered talent-ranker version {summary['version']} as {alias}: {summary['gate']}", highlight=False)


def evaluate_command(
    world: WorldOption = None,
    url: UrlOption = None,
    labels: LabelsOption = "",
    encoder: EncoderOption = None,
    link_people: LinkPeopleOption = False,
    seed: SeedOption = 0,
    json_: JsonOption = False,
) -> None:
    """The champion against the baselines (random, bm25, dense, concept, blend) on held-out needs, one card per
    person (the database's stored people; a world's with --link-people).

    Against the hidden truth where the world has one, else against held-out feedback. Without a champion, a model
    is trained in process (not registered). JSON: model name → metric → value."""
    from matcher.workflow import evaluate_models

    label_map = label_map_of(labels)
    records = load_records(world, url)
    persons = persons_of(world, url, records, link_people)
    idx = indices_for(records, encoder_name(encoder), json_)
    try:
        metrics, version = evaluate_models(
            idx, records.get("feedback", []), truth=truth_of(world), label_map=label_map, random_state=seed,
            persons=persons,
        )  # fmt: skip
    except ValueError as e:
        fail(str(e))
    if json_:
        print_json(metrics)
        return
    model = f"champion version {version}" if version else "a model trained in process (no champion registered)"
    out.print(metrics_table(f"held-out needs: {model}", metrics))


def rank_command(
    need_id: Annotated[str, typer.Argument(help="The need (post) to rank candidates for.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=500, help="How many candidates to show.")] = 20,
    personalized: Annotated[
        bool, typer.Option("--personalized/--no-personalized", help="Use the champion model (default) or not.")
    ] = True,
    world: WorldOption = None,
    url: UrlOption = None,
    link: Annotated[
        bool,
        typer.Option(
            "--link",
            help="With --world: link the folder's talent records into persons first (features.people.link, as "
            "`people link` does) and show each person once; without it a world folder ranks records. A demo world's "
            "answer key of persons is never read. From a database the stored persons are always used.",
        ),
    ] = False,
    encoder: EncoderOption = None,
    json_: JsonOption = False,
) -> None:
    """Ranked candidates for a need with scores and reasons, and how many each rule removed. From a database, one
    card per stored person (`people link --apply`); from a world folder, one per record, or per person with --link."""
    from matcher.pipeline import Policy, rank

    if link and world is None:
        raise typer.BadParameter(
            "--link links a world folder's records; a database ranks its stored persons (`people link --apply`)",
            param_hint="--link",
        )
    records = load_records(world, url)
    if need_id not in {n.id for n in records.get("need", ())}:
        fail(f"unknown need {need_id!r}; list needs with `talentmatch db export` or check the id")
    idx = indices_for(records, encoder_name(encoder), json_)
    scorer = champion_for(idx) if personalized else None
    policy = Policy(yrd_first=settings().policy_yrd_first)
    need = idx.needs[need_id]
    if world is None:  # the stored persons, read as the API reads them (one query per ranking)
        from service import people

        mode, store = "stored", open_store(url)
        with database_errors(store):
            ranking = rank(idx, need, scorer=scorer, k=k, personalized=personalized, policy=policy,
                           persons=lambda ids: people.persons_of(store, ids))  # fmt: skip
    else:
        mode, persons = ("linked", _linked_persons(records.get("talent", []), json_)) if link else ("records", None)
        ranking = rank(idx, need, scorer=scorer, k=k, personalized=personalized, policy=policy, persons=persons)
    doc = ranking.to_dict() | {"persons": mode}
    for c in doc["candidates"]:
        c["person_id"] = ranking.persons.get(c["talent_id"])
    if json_:
        print_json(doc)
        return
    title = {
        "stored": "one card per stored person",
        "linked": "one card per linked person",
        "records": "one card per record",
    }
    table = Table(title=f"{need.title} ({need_id}) — model {doc['model_version']}, {title[mode]}")
    for col in ("#", "talent", "score", "reasons"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left")
    for i, c in enumerate(doc["candidates"], 1):
        talent = idx.talents[c["talent_id"]]
        why = "; ".join(f"{r['zh']} / {r['en']}" for r in c["reasons"][:3])
        person = f", person {c['person_id']}" if c["person_id"] else ""
        table.add_row(str(i), f"{talent.display_name} ({c['talent_id']}{person})", f"{c['score']:.3f}", why)
    out.print(table)
    removed = ", ".join(f"{rule}: {n}" for rule, n in doc["removed"].items()) or "none"
    out.print(f"removed by rules: {removed}", highlight=False)


def _linked_persons(talents: list[Any], json_: bool) -> Any:
    """``matcher.pipeline.PersonsOf`` from linking ``talents`` now (``features.people.link``, default thresholds):
    the person of each record that shares its person with another record."""
    from features.people import link

    with progress_bar(not json_) as progress:
        progress.add_task(f"linking {len(talents):,} talents", total=None)
        linkage = link(talents)
    person_of = {t: p for p, members in linkage.people().items() if len(members) > 1 for t in members}
    return lambda ids: {t: person_of[t] for t in ids if t in person_of}
