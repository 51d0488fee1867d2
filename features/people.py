"""Duplicate-person linkage: which talent records are the same person.

The same person reaches the office several times — 王立新, "Lixin Wang", "Wang Lixin", "L. Wang" — from platforms,
incubators and imports. :func:`link` scores candidate pairs with a Fellegi–Sunter model (Splink on its embedded
DuckDB backend; Splink runs the same comparisons on Spark when a pool outgrows one machine, once the few levels
written in DuckDB SQL are written for it too) whose weights are learnt without labels: u from random pairs (fixed
seed), m by expectation maximisation on pairs blocked on e-mail and on phone, then u again among namesakes (EM on
the pairs of one full name, m kept: the non-matches scored are namesakes); the prior (how likely two random records
are one person) from the pairs sharing an e-mail or phone, over the share of true pairs that do (from the learnt m).
Pairs at or above ``threshold`` form persons (connected components); pairs between ``review_threshold`` and
``threshold`` are listed for a recruiter to confirm. Pure: records in, a :class:`Linkage` out, no store.

Comparisons: the name across scripts (pypinyin of Chinese names; token order ignored, so surname-first and
given-name-first agree; exact with name frequencies; surname plus given-name initial only when one record has
nothing more, as "L. Wang" — two full names that differ disagree), e-mail exactly, phone exactly with phone
frequencies (an office phone many records share says little), employer (legal form dropped, Chinese universities
in pinyin) exactly with employer frequencies or by Jaro–Winkler, institutions and works titles by set overlap,
nationality, incubator, and birth year (exact, ±1, different: strong evidence against) when records carry one;
what the person works on — skills (through the bilingual concept layer, so "lithium batteries" and "锂电池" agree)
by Jaccard overlap, NSFC discipline codes (the same code, the same parent) — and the city of residence (the same
city, the same country). Two namesakes in different fields stay apart; a copy sharing the skills joins.
Blocking (who is compared at all): the same full name; surname plus initial under either name order where a record
has nothing more ("L. Wang"); e-mail, phone, or a shared work title.

The parts, for linking a few new records without re-linking the pool: :func:`frame` (records → normalised rows),
:func:`settings` (the comparisons of :func:`_comparisons` and the blocking rules), :func:`train` (→ :class:`Model`,
Splink's model JSON), :func:`predict` (every blocked pair of a frame), and :func:`score_new` (new rows against
existing ones and among themselves, with a saved model). :func:`link` is ``train`` then ``predict`` on one frame.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd
from pypinyin import lazy_pinyin

from features.records import Talent

SEED = 42
"""Seed of the random pairs u is estimated from: the same records always give the same weights."""
THRESHOLD = 0.5
"""Match probability at or above which two records are one person: more likely one than two (the Bayes decision;
the probabilities are calibrated, see the README), where the model's own expected precision and recall meet."""
REVIEW_THRESHOLD = 0.1
"""Match probability from which a pair below ``THRESHOLD`` goes to review."""
EM_MIN_PAIRS = 20
"""Pairs a blocking rule must yield before EM learns from it (fewer teach nothing and can make EM diverge)."""
EM_PAIRS = 1e6
"""At most this many blocked pairs per EM session (a big employer's staff would otherwise give tens of millions)."""
M_FLOOR = 1e-3
"""Least m probability of a level: one disagreement (say, two incubators) never outweighs every other agreement,
however rarely EM saw true pairs disagree there."""
NAMESAKE_MATCHES = 0.5
"""u is learnt again among the pairs of one full name only when the model expects at most this share of them to be
one person (a pool of namesakes, not of duplicates)."""
U_PAIRS = 2e6
"""Random pairs for u: enough for stable non-match frequencies, a few seconds at 100k records."""

_LEGAL_ZH = ("股份有限公司", "有限责任公司", "有限公司", "公司")
_LEGAL_EN = frozenset(("ltd", "limited", "inc", "co", "corp", "corporation", "llc", "gmbh", "plc", "company"))
_ABBREVIATIONS = {"univ": "university", "uni": "university", "inst": "institute", "tech": "technology"}
_CJK = re.compile(r"[\u3400-\u9fff]")
_NOT_WORD = re.compile(r"[^\w\s]")
_JOINERS = re.compile(r"['’\-‐]")
_COMPOUND_SURNAMES = frozenset(("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "司徒", "夏侯", "尉迟",
                                "公孙", "长孙", "宇文", "端木", "百里", "西门", "南宫", "轩辕", "呼延"))  # fmt: skip
_SURNAME_READINGS = {"曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
                     "覃": "qin", "乐": "yue", "缪": "miao", "翟": "zhai", "盖": "ge", "种": "chong", "秘": "bi",
                     "尉迟": "yuchi", "长孙": "zhangsun", "万俟": "moqi"}  # fmt: skip
"""Surnames read otherwise than the character's common reading (pypinyin gives 曾 as "ceng")."""


@dataclass(frozen=True)
class ReviewPair:
    """A pair of records that may be one person: for a recruiter to confirm or reject."""

    left: str
    right: str
    probability: float
    agreed: tuple[str, ...]
    """The comparisons whose match weight spoke for the pair (e.g. ``("name", "email")``): why it was scored."""


@dataclass(frozen=True)
class Model:
    """A trained linkage model: Splink's model JSON (``linker.misc.save_model_to_json()``: comparisons with their m
    and u, blocking rules, prior) and the number of records it was trained on (:func:`score_new` scales the prior
    to a grown pool)."""

    splink: dict[str, Any]
    records: int

    @property
    def names(self) -> list[str]:
        """The comparisons' names, in order (``name``, ``email``, …)."""
        return [c["output_column_name"] for c in self.splink["comparisons"]]

    @property
    def tf_columns(self) -> list[str]:
        """The columns whose term frequencies adjust a comparison (``name``, ``phone``, …)."""
        levels = [level for c in self.splink["comparisons"] for level in c["comparison_levels"]]
        return list(
            dict.fromkeys(level["tf_adjustment_column"] for level in levels if level.get("tf_adjustment_column"))
        )


@dataclass
class Linkage:
    """The people found among talent records.

    ``persons`` maps every record id to its person id (the smallest record id of the person, so ids are stable
    while that record lives); ``review`` lists the pairs between the two thresholds, most likely first;
    ``scores`` holds every scored pair at or above ``review_threshold`` as ``(left, right, probability)``, for
    evaluation at other thresholds."""

    persons: dict[str, str]
    review: list[ReviewPair]
    scores: list[tuple[str, str, float]]
    threshold: float
    review_threshold: float
    seconds: float = 0.0
    comparisons: list[str] = field(default_factory=list)
    model: Model | None = None
    """The model the pool was scored with (none for fewer than two records): saved for :func:`score_new`."""
    frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    """The records' :func:`frame` (saved with the model: a later :func:`score_new` need not normalise them again)."""

    def people(self) -> dict[str, list[str]]:
        """Person id → its record ids (sorted)."""
        out: dict[str, list[str]] = {}
        for record, person in sorted(self.persons.items()):
            out.setdefault(person, []).append(record)
        return out


@cache
def _fold(text: str) -> str:
    """Lower case, accents and punctuation gone ("Li-Xin" and "lixin" agree), spaces single."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(_NOT_WORD.sub(" ", _JOINERS.sub("", text)).split())


@cache
def _pinyin(chars: str) -> str:
    return "".join(lazy_pinyin(chars))


def _readings(raw: str) -> list[tuple[str, str]]:
    """The (surname, given name) readings of one written name, in pinyin or folded Latin letters.

    Chinese: surname first, compound surnames known. Latin: "Wang, Lixin" and an upper-case "WANG Lixin" name the
    surname; "L. Wang" has initials before it; otherwise both orders are possible, and both are kept."""
    han = "".join(_CJK.findall(raw))
    if len(han) >= 2:
        cut = 2 if han[:2] in _COMPOUND_SURNAMES else 1
        surname = _SURNAME_READINGS.get(han[:cut]) or _pinyin(han[:cut])
        return [(surname, _pinyin(han[cut:]))]
    if "," in raw:
        head, _, tail = raw.partition(",")
        surname, given = _fold(head).replace(" ", ""), _fold(tail).replace(" ", "")
        return [(surname, given)] if surname and given else []
    words = raw.split()
    tokens = [_fold(w).replace(" ", "") for w in words]
    pairs = [(w, t) for w, t in zip(words, tokens, strict=True) if t]
    if len(pairs) < 2:
        return []
    capitals = [t for w, t in pairs if len(t) > 1 and w.isupper()]
    if len(capitals) == 1 and len(capitals) < len(pairs):  # "GUO Guo": only the upper-case word is the surname
        at = next(i for i, (w, t) in enumerate(pairs) if t == capitals[0] and w.isupper())
        return [(capitals[0], "".join(t for i, (_, t) in enumerate(pairs) if i != at))]
    initials = [t for _, t in pairs if len(t) == 1]
    if initials:
        longs = [t for _, t in pairs if len(t) > 1]
        return [(longs[-1], "".join(initials))] if longs else []
    tokens = [t for _, t in pairs]
    return [(tokens[-1], "".join(tokens[:-1])), (tokens[0], "".join(tokens[1:]))]


def _names(t: Talent) -> tuple[str | None, list[str] | None]:
    """The canonical name (surname and given name sorted, so either order agrees) and the surname-plus-initial
    keys of every reading of every written form of the talent's name."""
    canonical, keys = None, []
    for raw in dict.fromkeys(n for n in (t.name_zh, t.name, t.name_en) if n):
        for surname, given in _readings(raw):
            if not (surname and given):  # "欧阳" alone: a surname, no given name
                continue
            if canonical is None and len(given) > 1:
                canonical = " ".join(sorted((surname, given)))
            keys.append(f"{surname} {given[0]}")
    return canonical, list(dict.fromkeys(keys)) or None


def _phone(raw: str | None) -> str | None:
    digits = re.sub(r"\D", "", raw or "")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix) :]
    return digits if len(digits) >= 6 else None


@cache
def _employer(raw: str | None) -> str | None:
    """An employer's name without legal form, abbreviations spelt out, a Chinese university in pinyin:
    "湃翎半导体有限公司" and "湃翎半导体", "Peking Univ." and "Peking University", "浙江大学" and "Zhejiang University"
    agree."""
    han = "".join(_CJK.findall(raw or ""))
    if han and han == re.sub(r"\s", "", raw or ""):
        for suffix in _LEGAL_ZH:
            if han.endswith(suffix) and len(han) > len(suffix) + 1:
                han = han[: -len(suffix)]
                break
        if han.endswith("大学") and len(han) > 2:
            return f"{_pinyin(han[:-2])} university"
        return han
    words = [_ABBREVIATIONS.get(w, w) for w in _fold(raw or "").split()]
    while len(words) > 1 and words[-1] in _LEGAL_EN:
        words.pop()
    return " ".join(words) or None


def _set(values: Iterable[str | None]) -> list[str] | None:
    folded = sorted({f for v in values if v and (f := _fold(v))})
    return folded or None


@cache
def _skill(raw: str) -> str:
    """A skill's key: the bilingual concept it names ("robot control" and "机器人控制" agree) when the concept
    layer knows it, else its folded text."""
    from features.concepts import mapper

    cmap = mapper()
    concepts = sorted({cmap.columns[c] for c in cmap.match(raw)[0] if cmap.columns[c].startswith("skill:")})
    return "|".join(concepts) if concepts else _fold(raw)


def _residence(t: Talent) -> str | None:
    city = _fold(t.residence.city or "")
    return f"{t.residence.country or ''}:{city}" if city else None


def frame(talents: Iterable[Talent]) -> pd.DataFrame:
    """One row per talent with the normalised columns the comparisons read (``birth_year`` when Talent has it)."""
    rows = []
    for t in talents:
        name, keys = _names(t)
        email = (t.email or "").strip().lower() or None
        rows.append({
            "unique_id": t.id, "name": name, "keys": keys, "initial": keys[0] if keys else None, "email": email,
            "phone": _phone(t.phone), "employer": _employer(t.employer), "nationality": t.nationality,
            "institutions": _set(_employer(e.institution) for e in t.education),
            "works": _set(w.title for w in t.works),
            "incubator": t.incubator_id, "birth_year": getattr(t, "birth_year", None),
            "skills": sorted({_skill(k) for k in t.skills if k.strip()}) or None,
            "disciplines": sorted(set(t.disciplines)) or None,
            "fields": sorted({d[:5] for d in t.disciplines if len(d) >= 5}) or None,
            "residence": _residence(t),
        })  # fmt: skip
    df = pd.DataFrame(rows, columns=[
        "unique_id", "name", "keys", "initial", "email", "phone", "employer", "nationality", "institutions", "works",
        "incubator", "birth_year", "skills", "disciplines", "fields", "residence",
    ])  # fmt: skip
    return df


FRAME_VERSION = 1
"""Bump when :func:`frame` normalises a record differently: frames saved by another version are built again."""


def frame_version() -> str:
    """What a saved frame row must have been built by to be used as it is: :data:`FRAME_VERSION` and the columns."""
    return f"{FRAME_VERSION}:{','.join(frame([]).columns)}"


def frame_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A :func:`frame` as plain JSON rows (missing values ``None``), to save and to rebuild with :func:`from_rows`."""
    return [
        {k: (None if not isinstance(v, list) and pd.isna(v) else v) for k, v in row.items()}
        for row in df.to_dict("records")
    ]


def from_rows(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The :func:`frame` of saved :func:`frame_rows`."""
    return pd.DataFrame(list(rows), columns=frame([]).columns)


def _comparisons(df: pd.DataFrame) -> list:
    """The comparisons whose columns some record fills (an empty column teaches the model nothing)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name"),
            cll.ExactMatchLevel("name", term_frequency_adjustments=True),
            cll.ElseLevel(),
        ],
    )
    initial = cl.CustomComparison(  # "L. Wang" against "Lixin Wang" or "L. Wang": weighed only where a record has
        output_column_name="initial",  # nothing more, so that being written short is no evidence of a duplicate
        comparison_levels=[
            cll.CustomLevel(
                "(name_l IS NOT NULL AND name_r IS NOT NULL) OR keys_l IS NULL OR keys_r IS NULL",
                "both full names, or no name",
            ).configure(is_null_level=True),
            cll.ExactMatchLevel("initial", term_frequency_adjustments=True),  # "L. Wang" is common, "Q. Xie" not
            cll.CustomLevel("len(list_intersect(keys_l, keys_r)) >= 1", "surname and initial agree in another order"),
            cll.ElseLevel(),
        ],
    )
    year = cl.CustomComparison(
        output_column_name="birth_year",
        comparison_levels=[cll.NullLevel("birth_year"), cll.ExactMatchLevel("birth_year"),
                           cll.AbsoluteDifferenceLevel("birth_year", 1), cll.ElseLevel()],
    )  # fmt: skip
    jaccard = "len(list_intersect(skills_l, skills_r)) / len(list_distinct(list_concat(skills_l, skills_r)))"
    skills = cl.CustomComparison(
        output_column_name="skills",
        comparison_levels=[
            cll.NullLevel("skills"),
            cll.CustomLevel(f"{jaccard} >= 0.6", "skills Jaccard >= 0.6"),
            cll.CustomLevel(f"{jaccard} >= 0.3", "skills Jaccard >= 0.3"),
            cll.CustomLevel("len(list_intersect(skills_l, skills_r)) >= 1", "a skill shared"),
            cll.ElseLevel(),
        ],
    )
    disciplines = cl.CustomComparison(
        output_column_name="disciplines",
        comparison_levels=[
            cll.NullLevel("disciplines"),
            cll.ArrayIntersectLevel("disciplines", 1),
            cll.CustomLevel("len(list_intersect(fields_l, fields_r)) >= 1", "a parent discipline shared"),
            cll.ElseLevel(),
        ],
    )
    residence = cl.CustomComparison(
        output_column_name="residence",
        comparison_levels=[
            cll.NullLevel("residence"),
            cll.ExactMatchLevel("residence"),
            cll.CustomLevel("split_part(residence_l, ':', 1) = split_part(residence_r, ':', 1)", "same country"),
            cll.ElseLevel(),
        ],
    )
    candidates = {
        "name": name,
        "initial": initial,
        "email": cl.ExactMatch("email"),
        "phone": cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
        "employer": cl.JaroWinklerAtThresholds("employer", [0.95, 0.85]).configure(term_frequency_adjustments=True),
        "institutions": cl.ArrayIntersectAtSizes("institutions", [2, 1]),
        "works": cl.ArrayIntersectAtSizes("works", [2, 1]),
        "nationality": cl.ExactMatch("nationality"),
        "incubator": cl.ExactMatch("incubator"),
        "birth_year": year,
        "skills": skills,
        "disciplines": disciplines,
        "residence": residence,
    }
    return [c for col, c in candidates.items() if df[col].notna().any()]


def _blocking(df: pd.DataFrame) -> list:
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    # Two full names are compared when they agree (two that differ speak against, and are compared anyway when
    # they share an e-mail, phone or work); surname plus initial only brings in a record written short, "L. Wang".
    short = 'l."keys" = r."keys" AND (l."name" IS NULL OR r."name" IS NULL)'
    rules = [block_on("name"), CustomRule(short, sql_dialect="duckdb", arrays_to_explode=["keys"])]
    rules += [block_on(c) for c in ("email", "phone") if df[c].notna().any()]
    if df["works"].notna().any():
        rules.append(block_on("works", arrays_to_explode=["works"]))
    return rules


def link(
    talents: Iterable[Talent], threshold: float = THRESHOLD, review_threshold: float = REVIEW_THRESHOLD
) -> Linkage:
    """Link talent records into persons (see the module docstring). Every record gets a person, alone or not."""
    _check(threshold, review_threshold)
    t0 = time.perf_counter()
    df = frame(talents)
    ids = df["unique_id"].tolist()
    if len(set(ids)) != len(ids):
        raise ValueError("talent ids must be unique to link them")
    scores: list[tuple[str, str, float]] = []
    names: list[str] = []
    review: list[ReviewPair] = []
    model = None
    if len(df) >= 2:
        db = _duckdb()
        model = train(df, db)
        scores, review, names = predict(df, model, threshold, review_threshold, db)
    persons = components(ids, [(a, b) for a, b, p in scores if p >= threshold])
    seconds = time.perf_counter() - t0
    return Linkage(persons, review, scores, threshold, review_threshold, seconds, names, model, df)


def _check(threshold: float, review_threshold: float) -> None:
    if not 0 < review_threshold <= threshold < 1:
        raise ValueError(f"need 0 < review_threshold ({review_threshold}) <= threshold ({threshold}) < 1")


def _duckdb() -> Any:
    """Splink's DuckDB backend (Splink is imported only when linking: it takes a second or two), without DuckDB's
    progress bar: it draws on stdout, where a CLI's ``--json`` document goes."""
    import duckdb
    from splink import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.ERROR)
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    return DuckDBAPI(connection)


def settings(df: pd.DataFrame, prior: float) -> Any:
    """Splink's settings for ``df``: the comparisons (:func:`_comparisons`), the blocking rules, the prior."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=_comparisons(df),
        blocking_rules_to_generate_predictions=_blocking(df),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
        probability_two_random_records_match=prior,
    )


def train(df: pd.DataFrame, db: Any = None) -> Model:
    """The model of ``df`` (a :func:`frame` of two records or more), learnt without labels as the module docstring
    says: u from random pairs (and among namesakes), m by EM on the e-mail and phone blocks, the prior, every learnt m
    floored."""
    from splink import Linker, block_on

    db = db or _duckdb()
    names = [c.get_comparison("duckdb").output_column_name for c in _comparisons(df)]
    exact = [c for c in ("email", "phone") if c in names]
    shared = _shared_pairs(df, exact)
    linker = Linker(db.register(df), settings(df, _prior(shared, len(df), recall=0.7)), log_level=None)  # EM's start
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=SEED)
    for rule in ("email", "phone"):  # blocks of true pairs (a name block teaches namesakes; a works one, co-authors)
        if _pairs(df[rule]) >= EM_MIN_PAIRS:
            before = linker.misc.save_model_to_json()
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(block_on(rule), max_pairs=EM_PAIRS)
            except ValueError:  # no pair in the block looks like a match (EM's prior reached 0): nothing learnt,
                linker = Linker(db.register(df), before, log_level=None)  # and the model Splink left half-changed

    model = linker.misc.save_model_to_json()
    m = {c["output_column_name"]: c["comparison_levels"][1].get("m_probability") or 0 for c in model["comparisons"]}
    missed = 1.0
    for c in exact:
        missed *= 1 - m[c] * df[c].notna().mean() ** 2
    prior = model["probability_two_random_records_match"] = _prior(shared, len(df), recall=1 - missed)
    namesakes = _pairs(df["name"])
    if "name" in names and namesakes >= EM_MIN_PAIRS:  # u among namesakes where they are mostly not one person
        true_pairs = prior * len(df) * (len(df) - 1) / 2 * m.get("name", 0)  # (a small pool of duplicates only
        if true_pairs <= NAMESAKE_MATCHES * namesakes:  # would teach that sharing a work is common among non-matches)
            _namesake_u(linker, model)
    for comparison in model["comparisons"]:
        levels = [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
        if any(level.get("m_probability") for level in levels):  # EM saw matches compared here: a level it never
            for level in levels:  # saw among them is rare in matches (floored), not neutral
                level["m_probability"] = max(level.get("m_probability") or 0, M_FLOOR)
        elif comparison["output_column_name"] not in exact:  # EM saw no match compared here (no training pair
            for level in levels:  # filled the column): no evidence either way rather than Splink's default m (which
                level["m_probability"] = level.get("u_probability") or M_FLOOR  # made two shared institutions
            # decisive). E-mail and phone, whose blocks EM learns from, keep the default (agreement: a match).
    return Model(json.loads(json.dumps(model, default=_plain)), len(df))  # plain JSON: a store keeps it as it is


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (the prior is computed with pandas)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def predict(
    df: pd.DataFrame,
    model: Model,
    threshold: float = THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
    db: Any = None,
) -> tuple[list[tuple[str, str, float]], list[ReviewPair], list[str]]:
    """Score every blocked pair of ``df`` with ``model``: the pairs at or above ``review_threshold``, the review
    pairs among them (below ``threshold``), and the comparison names."""
    from splink import Linker

    linker = Linker((db or _duckdb()).register(df), model.splink, log_level=None)
    predicted = linker.inference.predict(threshold_match_probability=review_threshold).as_pandas_dataframe()
    return (*_scored(predicted, model.names, threshold), model.names)


@dataclass(frozen=True)
class NewScores:
    """New records scored against existing ones and among themselves (:func:`score_new`)."""

    scores: list[tuple[str, str, float]]
    """Every pair with a new record scored at or above the review threshold, ``(left, right, probability)`` with
    ``left < right``."""
    review: list[ReviewPair]
    compared: int
    """Pairs compared (blocked and scored, whatever their probability): each has a new record."""
    seconds: float


def score_new(
    existing: pd.DataFrame,
    new: pd.DataFrame,
    model: Model,
    threshold: float = THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
) -> NewScores:
    """Score the ``new`` records (a :func:`frame`) against the ``existing`` ones and among themselves with a saved
    ``model``, under its own blocking rules — no pair of two existing records is compared. Term frequencies are those
    of the whole pool (existing and new, as a full :func:`link` of it would count them), and the prior is the
    model's scaled to the pool (a random pair is a match about ``1/records`` as often: persons grow with the pool,
    pairs with its square)."""
    from splink import Linker

    _check(threshold, review_threshold)
    t0 = time.perf_counter()
    if new.empty:
        return NewScores([], [], 0, time.perf_counter() - t0)
    pool = pd.concat([existing, new], ignore_index=True)
    if pool["unique_id"].duplicated().any():
        raise ValueError("talent ids must be unique to link them (a new record already exists?)")
    splink = copy.deepcopy(model.splink)
    prior = splink["probability_two_random_records_match"] * (model.records - 1) / max(len(pool) - 1, 1)
    splink["probability_two_random_records_match"] = min(prior, 0.5)
    db = _duckdb()
    linker = Linker(db.register(pool), splink, log_level=None)
    for column in model.tf_columns:
        linker.table_management.compute_tf_table(column)
    new_table = db.register(new)
    parts = [linker.inference.predict_within(new_table)] if len(new) >= 2 else []
    if not existing.empty:
        parts.append(linker.inference.predict_between(db.register(existing), new_table))
    scored, compared = [], 0
    for part in parts:
        relation = part.as_duckdbpyrelation()
        compared += relation.count("*").fetchall()[0][0]
        scored.append(relation.filter(f"match_probability >= {float(review_threshold)!r}").df())
    predicted = pd.concat(scored, ignore_index=True) if scored else pd.DataFrame()
    scores, review = _scored(predicted, model.names, threshold) if len(predicted) else ([], [])
    return NewScores(scores, review, compared, time.perf_counter() - t0)


def _scored(
    predicted: pd.DataFrame, names: list[str], threshold: float
) -> tuple[list[tuple[str, str, float]], list[ReviewPair]]:
    """Splink's predictions as ``(left, right, probability)`` (``left < right``) and the review pairs among them
    (below ``threshold``, with the comparisons whose match weight spoke for them), most probable first."""
    weights = [f"mw_{n}" for n in names]
    scores, review = [], []
    for row in predicted[["unique_id_l", "unique_id_r", "match_probability", *weights]].itertuples(index=False):
        left, right, p = row[0], row[1], float(row[2])
        left, right = min(left, right), max(left, right)
        scores.append((left, right, p))
        if p < threshold:
            agreed = tuple(n for n, w in zip(names, row[3:], strict=True) if w > 0)
            review.append(ReviewPair(left, right, p, agreed))
    review.sort(key=lambda r: (-r.probability, r.left, r.right))
    return scores, review


def _namesake_u(linker, model: dict) -> None:
    """u among pairs of one full name (EM on the name block, m kept), into ``model``: nearly every pair scored agrees
    on the name, so the non-matches the model must tell apart are namesakes — who share a nationality, a country or
    a city more often than random pairs (two random records share a city 2.5 % of the time on the 30k development
    world; two namesakes that are not one person 3.5 %): u from random pairs alone double counts the name."""
    from splink import block_on

    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("name"), fix_m_probabilities=True, fix_u_probabilities=False, max_pairs=EM_PAIRS
        )
    except ValueError:
        return
    learnt = {c["output_column_name"]: c for c in linker.misc.save_model_to_json()["comparisons"]}
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        for level, new in zip(comparison["comparison_levels"], learnt[name]["comparison_levels"], strict=True):
            if new.get("u_probability") is not None and not level.get("is_null_level"):
                level["u_probability"] = new["u_probability"]


def _shared_pairs(df: pd.DataFrame, columns: list[str]) -> int:
    """Pairs of records sharing a value of any of ``columns`` (each pair once)."""
    if not columns:
        return 0
    both = df.dropna(subset=columns)
    return sum(_pairs(df[c]) for c in columns) - (_pairs(both[columns].astype(str).agg("|".join, axis=1)) if
                                                   len(columns) == 2 else 0)  # fmt: skip


def _prior(shared: int, n: int, recall: float) -> float:
    """How likely two random records are one person: the pairs sharing an e-mail or phone (nearly all true), over
    the share of true pairs that do (``recall``); ``1/n`` when none do (as if half the records had a duplicate)."""
    total = n * (n - 1) / 2
    if not shared or recall <= 0:
        return min(1 / n, 0.5)
    return min(shared / min(max(recall, 0.05), 1.0) / total, 0.5)


def _pairs(column: pd.Series) -> int:
    """Pairs of records sharing a value of ``column``."""
    counts = column.value_counts()
    return int((counts * (counts - 1) // 2).sum())


def components(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    """Record id → person id: connected components over the matching pairs, named by their smallest record id."""
    parent = {i: i for i in ids}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: root(i) for i in ids}
