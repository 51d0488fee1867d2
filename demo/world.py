"""Generating a demo world: draw the latent state, grade it, simulate the recruiters, render and write the files.

Why: this is the one public entry point of ``demo`` (``generate_world``), used by the CLI's ``world generate``, the
tests and the benchmarks. It owns the seeding (one ``SeedSequence`` split per stage, so the same seed gives the same
bytes however the talents are scheduled) and the all-or-nothing write of a world folder, hidden truth and hidden
parameters (``PARAMS_FILE``) included.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from demo.duplicates import add_duplicates
from demo.latent import KINDS, NOW, Latent, draw_needs, draw_talents
from demo.recruiter import RecruiterParams, draw_recruiter, pass_over, simulate_feedback
from demo.relations import EVALUATED, Drawn, draw_relations
from demo.relevance import RelevanceParams, draw_params, grade_needs
from demo.render import Renderer, render_enterprises, render_incubators, render_need, render_talents
from demo.vocabulary import PLATFORMS, Vocabulary, vocabulary
from features.records import WORLD_FILES, Enterprise, FeedbackEvent, Record, Relation, Talent, dump
from matcher.truth import TRUTH_FILE

Progress = Callable[[str, int, int], None]

PARAMS_FILE = "relevance.json"
"""The world's drawn relevance and recruiter parameters, for evaluation and analysis only: no product code reads
it (``tests/demo/test_params.py`` checks that features, matcher and service never name it)."""

PEOPLE_FILE = "people.jsonl"
"""Which talent records are one person (``{"person": "P000001", "talents": ["T000001", "T005003"]}``, one line per
person with two or more records), written only when ``duplicates`` > 0: for evaluating record linkage only, never
named by product code (``tests/demo/test_params.py``)."""


def _default_needs(talents: int) -> int:
    return int(min(2000, max(40, talents // 20)))


def generate_world(
    out_dir: Path,
    *,
    talents: int = 5000,
    seed: int = 0,
    needs: int | None = None,
    duplicates: float = 0.0,
    relations: float = 0.0,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write a demo world (the six record files — seven with ``relations`` —, ``truth.jsonl`` and ``PARAMS_FILE``)
    into ``out_dir``; same seed, same bytes. The hidden relevance and the recruiters' noise are drawn per seed
    (``draw_params``, ``draw_recruiter``) and recorded in ``PARAMS_FILE``.

    Sizes: ``needs`` defaults to one per 20 talents (40 to 2,000), enterprises to one per two needs. Files are
    written under temporary names and moved into place only when all are complete, so a failure leaves no
    half-written world. ``progress(stage, done, total)`` reports the stages ``latent``, ``truth``, ``talents``, (with
    duplicates) ``duplicates`` and (with relations) ``relations``.
    Returns the number of lines written per record or truth file name.

    ``duplicates`` (0–1): that share of the persons also arrive as 1–3 more talent records, as another source would
    send them (``demo.duplicates``), appended after the originals, with the originals' grades in the truth and no
    feedback; every talent gets a birth year and some common names are given to several distinct persons; the
    persons with several records are listed in ``PEOPLE_FILE``. With 0 (the default) the world is the same, byte
    for byte, as before this option existed.

    ``relations`` (0–1): that share of the (original) talents declare a relation — employee, former employee,
    founder or shareholder of an enterprise, family or co-author of an enterprise's employee — written to
    ``relations.jsonl`` (``demo.relations``); some declared employees' profiles name the enterprise as employer. On
    the post kinds the world's office evaluates, the simulated recruiters pass over a talent tied to the post's
    enterprise at the world's present (viewed, then rejected) and the truth no longer grades them. With 0 (the
    default) the world is the same, byte for byte, as before this option existed.
    """
    out_dir = Path(out_dir)
    for name, value, low in (("talents", talents, 1), ("seed", seed, 0), ("needs", needs, 1)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise ValueError(f"world generate: --{name} must be an integer >= {low}, got {value!r}")
    if isinstance(duplicates, bool) or not isinstance(duplicates, int | float) or not 0 <= duplicates <= 1:
        raise ValueError(f"world generate: --duplicates must be a share between 0 and 1, got {duplicates!r}")
    if isinstance(relations, bool) or not isinstance(relations, int | float) or not 0 <= relations <= 1:
        raise ValueError(f"world generate: --relations must be a share between 0 and 1, got {relations!r}")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"world generate: {out_dir} exists and is not a directory; pass a directory path")
    n_needs = needs if needs is not None else _default_needs(talents)
    v = vocabulary()
    ss = np.random.SeedSequence(seed)
    # A new stage appends a stream, never shifts one: spawn(n) gives the same first children for any larger n.
    s_ent, s_need, s_tal, s_truth, s_rneed, s_rtal, s_params, s_dupes, s_relations = ss.spawn(9)
    s_relevance, s_recruiter = s_params.spawn(2)
    params = draw_params(np.random.default_rng(s_relevance))
    recruiter = draw_recruiter(np.random.default_rng(s_recruiter))

    ent_rnd = random.Random(int(s_ent.generate_state(1)[0]))
    enterprises, ent_ind = render_enterprises(ent_rnd, max(1, n_needs // 2))
    need_lat = draw_needs(np.random.default_rng(s_need), v, n_needs, ent_ind)
    tal_lat = draw_talents(np.random.default_rng(s_tal), v, talents, need_lat["n_area"])
    lat = Latent(**need_lat, **tal_lat)
    if progress:
        progress("latent", 1, 1)

    out_dir.mkdir(parents=True, exist_ok=True)
    files = (name for kind, name in WORLD_FILES.items() if kind != "relation" or relations)
    names = (*files, TRUTH_FILE, PARAMS_FILE, *((PEOPLE_FILE,) if duplicates else ()))
    tmp = {name: out_dir / f".{name}.tmp" for name in names}
    counts: dict[str, int] = {}
    incubators = render_incubators(v)
    inc_ids = [x.id for x in incubators]
    try:
        with _TalentJobs(v, lat, s_rtal, inc_ids, workers=min(2, os.cpu_count() or 1)) as talent_jobs:
            rnd_need = random.Random(int(s_rneed.generate_state(1)[0]))
            need_times = [
                NOW - timedelta(days=rnd_need.randint(40, 420), minutes=rnd_need.randint(0, 1439))
                for _ in range(n_needs)
            ]
            truth, events = _truth_and_feedback(
                v, lat, np.random.default_rng(s_truth), need_times, params, recruiter, progress
            )
            need_width = max(5, len(str(n_needs)))
            ent_ids = [e.id for e in enterprises]
            rd = Renderer(v, rnd_need)
            need_records = [render_need(rd, lat, i, need_width, ent_ids, need_times[i]) for i in range(n_needs)]
            for kind, records in (
                ("platform", PLATFORMS),
                ("incubator", incubators),
                ("enterprise", enterprises),
                ("need", need_records),
            ):
                counts[WORLD_FILES[kind]] = _write_records(tmp[WORLD_FILES[kind]], records)
            counts[WORLD_FILES["talent"]] = talent_jobs.write(tmp[WORLD_FILES["talent"]], progress)
        need_ids = [n.id for n in need_records]
        tal_width = max(6, len(str(talents)))
        copies_of: dict[int, list[int]] = {}
        if duplicates:
            rnd_dupes = random.Random(int(s_dupes.generate_state(1)[0]))
            if progress:
                progress("duplicates", 0, 1)
            copies_of = _write_duplicates(
                tmp[WORLD_FILES["talent"]], tmp[PEOPLE_FILE], rnd_dupes, duplicates, tal_width
            )
            if progress:
                progress("duplicates", 1, 1)
            truth = [(n, c, g) for n, t, g in truth for c in (t, *copies_of.get(t, ()))]
            counts[WORLD_FILES["talent"]] = talents + sum(map(len, copies_of.values()))
            counts[PEOPLE_FILE] = len(copies_of)
        if relations:
            if progress:
                progress("relations", 0, 1)
            drawn = _write_relations(
                tmp[WORLD_FILES["talent"]],
                tmp[WORLD_FILES["relation"]],
                random.Random(int(s_relations.generate_state(1)[0])),
                relations,
                lat,
                enterprises,
            )
            counts[WORLD_FILES["relation"]] = len(drawn.rows)
            blocked = _blocked(lat, drawn)
            events = pass_over(events, blocked)
            orig_of = {c: o for o, cs in copies_of.items() for c in cs}
            truth = [(n, t, g) for n, t, g in truth if (n, orig_of.get(t, t)) not in blocked]
            if progress:
                progress("relations", 1, 1)
        counts[WORLD_FILES["feedback"]] = _write_records(
            tmp[WORLD_FILES["feedback"]],
            (
                FeedbackEvent(
                    need_id=need_ids[e["need"]],
                    talent_id=f"T{e['talent'] + 1:0{tal_width}d}",
                    action=e["action"],
                    position=e["position"],
                    actor=e["actor"],
                    time=e["time"],
                    model_version="legacy",
                    ranking_id=f"legacy-{need_ids[e['need']]}",
                )
                for e in events
            ),
        )
        row = '{"need_id":"%s","talent_id":"T%0' + str(tal_width) + 'd","grade":%d}\n'  # ids are plain ASCII
        with tmp[TRUTH_FILE].open("w", encoding="utf-8") as fh:
            fh.writelines(row % (need_ids[n], t + 1, g) for n, t, g in truth)
        counts[TRUTH_FILE] = len(truth)
        doc = {"seed": seed, "relevance": asdict(params), "recruiter": asdict(recruiter)}
        tmp[PARAMS_FILE].write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        for name, path in tmp.items():
            os.replace(path, out_dir / name)
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
    return counts


def _write_duplicates(
    talents_path: Path, people_path: Path, rnd: random.Random, share: float, width: int
) -> dict[int, list[int]]:
    """Rewrite the talents file with birth years, namesakes and the copies appended (each validated), and write the
    people file; returns each duplicated original's copies' positions."""
    rows = [orjson.loads(line) for line in talents_path.read_bytes().splitlines()]
    copies, copies_of, _ = add_duplicates(rnd, rows, share, width)
    _write_records(talents_path, (Talent.model_validate(r) for r in (*rows, *copies)))
    with people_path.open("wb") as fh:
        for k, (orig, pos) in enumerate(sorted(copies_of.items())):
            ids = [f"T{p + 1:0{width}d}" for p in (orig, *pos)]
            fh.write(orjson.dumps({"person": f"P{k + 1:06d}", "talents": ids}) + b"\n")
    return copies_of


def _write_relations(
    talents_path: Path,
    relations_path: Path,
    rnd: random.Random,
    share: float,
    lat: Latent,
    enterprises: Sequence[Enterprise],
) -> Drawn:
    """Draw the originals' relations, write them (validated) and rewrite the lines of the talents whose profile now
    names their enterprise as employer (each validated again; the other lines are kept as they were)."""
    lines = talents_path.read_bytes().splitlines()
    rows = [orjson.loads(line) for line in lines]
    n = len(lat.t_area)
    fields: list[set[int]] = [set() for _ in enterprises]
    for e, area in zip(lat.n_enterprise.tolist(), lat.n_area.tolist(), strict=True):
        fields[e].add(area)
    drawn = draw_relations(
        rnd, rows[:n], lat.t_area.tolist(), [frozenset(f) for f in fields], lat.t_abroad.tolist(), enterprises, share
    )
    if drawn.employers:
        for t, employer in drawn.employers.items():
            lines[t] = orjson.dumps(dump(Talent.model_validate({**rows[t], "employer": employer})))
        talents_path.write_bytes(b"\n".join(lines) + b"\n")
    _write_records(relations_path, (Relation.model_validate(r) for r in drawn.rows))
    return drawn


def _blocked(lat: Latent, drawn: Drawn) -> set[tuple[int, int]]:
    """(need, talent) positions of the pairs the world's office does not allow: a talent currently tied to the
    need's enterprise, on a post kind it evaluates."""
    tied: dict[int, list[int]] = {}
    for e, t in drawn.current:
        tied.setdefault(e, []).append(t)
    evaluated = {KINDS.index(k) for k in EVALUATED}
    return {
        (need, t)
        for need, (e, kind) in enumerate(zip(lat.n_enterprise.tolist(), lat.n_kind.tolist(), strict=True))
        if kind in evaluated
        for t in tied.get(e, ())
    }


def _write_records(path: Path, records: Sequence[Record] | object) -> int:
    n = 0
    with path.open("wb") as fh:
        for r in records:  # type: ignore[attr-defined]
            fh.write(orjson.dumps(dump(r)) + b"\n")
            n += 1
    return n


_TALENT_CHUNK = 5000
_forked: tuple[Vocabulary, Latent, list[str]] | None = None  # what forked workers inherit from their parent


class _TalentJobs:
    """Talents rendered in fixed chunks, each with its own seed, so the bytes never depend on scheduling. With
    several chunks and ``fork`` available the chunks render in worker processes, overlapping the truth stage."""

    def __init__(
        self, v: Vocabulary, lat: Latent, ss: np.random.SeedSequence, inc_ids: list[str], workers: int
    ) -> None:
        n = len(lat.t_area)
        starts = range(0, n, _TALENT_CHUNK)
        seeds = [int(s.generate_state(1)[0]) for s in ss.spawn(len(starts))]
        self.jobs = [(start, min(n, start + _TALENT_CHUNK), seed) for start, seed in zip(starts, seeds, strict=True)]
        self.v, self.lat, self.inc_ids, self.n = v, lat, inc_ids, n
        parallel = workers > 1 and len(self.jobs) > 1 and "fork" in multiprocessing.get_all_start_methods()
        self.workers = workers if parallel else 0
        self.pool: multiprocessing.pool.Pool | None = None

    def __enter__(self) -> _TalentJobs:
        global _forked
        if self.workers:
            _forked = (self.v, self.lat, self.inc_ids)
            try:
                self.pool = multiprocessing.get_context("fork").Pool(self.workers)
            finally:
                _forked = None
            self.results = self.pool.imap(_render_job, self.jobs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def write(self, path: Path, progress: Progress | None) -> int:
        with path.open("wb") as fh:
            for start, stop, seed in self.jobs:
                lines = (
                    next(self.results)
                    if self.pool
                    else render_talents(self.v, self.lat, start, stop, seed, self.inc_ids)
                )
                fh.write(b"\n".join(lines) + b"\n")
                if progress:
                    progress("talents", stop, self.n)
        return self.n


def _render_job(job: tuple[int, int, int]) -> list[bytes]:
    assert _forked is not None, "talent worker started without the parent's latent state"
    v, lat, inc_ids = _forked
    return render_talents(v, lat, *job, inc_ids)


def _truth_and_feedback(
    v: Vocabulary,
    lat: Latent,
    rng: np.random.Generator,
    need_times: list[datetime],
    params: RelevanceParams,
    recruiter: RecruiterParams,
    progress: Progress | None,
) -> tuple[list[tuple[int, int, int]], list[dict]]:
    """The truth rows (need, talent, grade >= 1) and the simulated recruiters' feedback on each need, both drawn
    from one stream: each chunk's relevance noise, then each of its needs' feedback, in need order."""
    consenting = np.flatnonzero(lat.t_consent)
    n_needs = len(lat.n_area)
    truth: list[tuple[int, int, int]] = []
    events: list[dict] = []
    for graded in grade_needs(v, lat, rng, params):
        for i in range(graded.stop - graded.start):
            need = graded.start + i
            cols, rel, grade = graded.need(i)
            hit = np.flatnonzero(grade)
            truth.extend(zip([need] * len(hit), cols[hit].tolist(), grade[hit].tolist(), strict=True))
            events.extend(
                simulate_feedback(rng, need, cols, rel, grade, consenting, lat.t_consent, need_times, recruiter)
            )
        if progress:
            progress("truth", graded.stop, n_needs)
    return truth, events
