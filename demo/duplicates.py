"""Duplicate persons: extra talent records of the same person as another source would send them, and namesakes.

Why: talent reaches the office through platforms, overseas incubators, enterprise uploads and imports, so one person
arrives several times, each copy written differently (the name in another script or order, another e-mail, the
employer abbreviated or newer, fewer works). The product must link such copies without being told; the world
records which records are one person (``world.PEOPLE_FILE``) for evaluation only. Distinct persons who share a
common name (two different 王伟) are added too, so linking on the name alone fails. The rates are documented in
``demo/README.md``. Everything here draws from one ``random.Random`` seeded by the caller, after the originals are
rendered, so a world without duplicates is byte-identical to one generated before this stage existed.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

from demo.latent import NOW
from demo.vocabulary import CN_UNIVERSITIES, GIVEN_NAMES, SURNAMES, VAGUE_SUMMARIES

_SURNAME = dict(SURNAMES)
_GIVEN = dict(GIVEN_NAMES)
_UNI_OTHER = {zh: en for zh, en in CN_UNIVERSITIES} | {en: zh for zh, en in CN_UNIVERSITIES}
COMMON_SURNAMES = ("王", "李", "张", "刘", "陈")
COMMON_GIVEN = ("伟", "芳", "敏", "静", "磊", "强", "军", "洋", "勇", "艳")
COPIES = ((1, 2, 3), (70, 22, 8))
"""How many extra records a duplicated person gets, and the weights."""
INCUBATOR_WEIGHT = 3
"""How much likelier a talent listed by an incubator is to be duplicated than others."""
DOMAINS = ("mail.example.org", "alumni.example.edu", "research.example.net", "example.cn")
_TITLE_EDITS = ("lower", "upper_first", "strip_punct", "add_period", "dash")


def split_name(name_zh: str) -> tuple[str, str, list[str]] | None:
    """``(surname_zh, surname_pinyin, given pinyin syllables)`` of a name built from the vocabulary, else None."""
    sur = "欧阳" if name_zh.startswith("欧阳") else name_zh[:1]
    rest = name_zh[len(sur) :]
    if sur not in _SURNAME or not rest or any(ch not in _GIVEN for ch in rest):
        return None
    return sur, _SURNAME[sur], [_GIVEN[ch] for ch in rest]


def latin_parts(t: dict) -> tuple[str, str] | None:
    """(given, family) in Latin letters: from the Chinese name's pinyin when there is one, else from ``name_en``
    ("Given Family")."""
    if t.get("name_zh") and (parts := split_name(t["name_zh"])):
        _, sur, given = parts
        return given[0] + "".join(g.lower() for g in given[1:]), sur
    en = t.get("name_en") or t.get("name")
    if en and en.isascii() and len(en.split()) == 2:
        given, family = en.split()
        return given, family
    return None


def name_form(given: str, family: str, form: str) -> str:
    """One of the ways a Latin name is written: "Lixin Wang", "Wang Lixin", "L. Wang", "WANG Lixin"."""
    return {
        "given_first": f"{given} {family}",
        "surname_first": f"{family} {given}",
        "initial": f"{given[0]}. {family}",
        "upper_surname": f"{family.upper()} {given}",
    }[form]


def with_birth_years(rnd: random.Random, talents: list[dict]) -> None:
    """Give every talent a birth year consistent with its education (a first degree at 21–24, a doctorate or a
    master's at 26–32), or a plausible one without education; in place."""
    for t in talents:
        years = [(e.get("degree"), e["year"]) for e in t.get("education", ()) if e.get("year")]
        first = [y for d, y in years if d == "bachelor"]
        if first:
            t["birth_year"] = min(first) - rnd.randint(21, 24)
        elif years:
            t["birth_year"] = max(y for _, y in years) - rnd.randint(26, 32)
        else:
            t["birth_year"] = rnd.randint(1955, 1996)


def add_namesakes(rnd: random.Random, talents: list[dict], groups: int) -> list[list[int]]:
    """Give ``groups`` times a common Chinese name (王伟, 李静, …) to two or three distinct persons, in place; returns
    the renamed talents' positions per group. Their e-mail, if any, follows the new name; sometimes (a quarter)
    they also share the employer, as colleagues with one name do."""
    chinese = [i for i, t in enumerate(talents) if t.get("name_zh") and split_name(t["name_zh"])]
    rnd.shuffle(chinese)
    names = [s + g for s in COMMON_SURNAMES for g in COMMON_GIVEN]
    rnd.shuffle(names)
    out = []
    for k in range(groups):
        size = rnd.choice((2, 2, 3))
        if len(chinese) < size:
            break
        members = [chinese.pop() for _ in range(size)]
        name_zh = names[k % len(names)]  # at scale a name has several groups
        _, sur_py, given = split_name(name_zh)  # type: ignore[misc]
        latin = f"{given[0]} {sur_py}"
        employer = talents[members[0]].get("employer")
        for i in members:
            t = talents[i]
            was_chinese = t.get("name") == t.get("name_zh")
            t["name_zh"] = name_zh
            if t.get("name_en"):
                t["name_en"] = latin
            t["name"] = name_zh if was_chinese else latin
            if t.get("email"):
                t["email"] = f"{given[0].lower()}.{t['email'].split('.', 1)[1]}"
            if employer and rnd.random() < 0.25:
                t["employer"] = employer
        out.append(sorted(members))
    return out


class CopyMaker:
    """Draws copies of a talent record, each varied independently in several fields; counts each variation kind
    applied (``kinds``) for the README's table and the tests."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.kinds: Counter[str] = Counter()

    def _pick(self, field: str, options: tuple[str, ...], weights: tuple[int, ...]) -> str:
        kind = self.rnd.choices(options, weights)[0]
        self.kinds[f"{field}:{kind}"] += 1
        return kind

    def copy(self, t: dict, new_id: str, employers: list[str]) -> dict:
        rnd = self.rnd
        c = {k: v for k, v in t.items() if k not in ("id", "name", "name_zh", "name_en")}
        c["id"] = new_id
        self._name(t, c)
        self._contact(t, c)
        self._employer(t, c, employers)
        if t.get("nationality") and self._pick("nationality", ("same", "missing"), (85, 15)) == "missing":
            del c["nationality"]
        if t.get("birth_year"):
            kind = self._pick("birth_year", ("same", "missing", "off_by_one"), (70, 25, 5))
            if kind == "missing":
                del c["birth_year"]
            elif kind == "off_by_one":
                c["birth_year"] = t["birth_year"] + rnd.choice((-1, 1))
        self._works(t, c)
        if t.get("skills"):
            kept = [s for s in t["skills"] if rnd.random() < 0.75]
            self.kinds["skills:subset" if len(kept) < len(t["skills"]) else "skills:same"] += 1
            c["skills"] = kept
        self._summary(t, c)
        if t.get("incubator_id") and self._pick("incubator", ("same", "missing"), (70, 30)) == "missing":
            del c["incubator_id"]
        for field, p in (("education", 0.3), ("honours", 0.3), ("disciplines", 0.4), ("languages", 0.2)):
            if c.get(field) and rnd.random() < p:
                del c[field]
                self.kinds[f"{field}:missing"] += 1
        if c.get("tier") and rnd.random() < 0.2:
            del c["tier"]
        if c.get("salary_expectation") is not None and rnd.random() < 0.4:
            del c["salary_expectation"]
        self._updated(t, c)
        return {k: v for k, v in c.items() if v not in (None, [], "")}

    def _name(self, t: dict, c: dict) -> None:
        """Another script or order: 王立新 / "Lixin Wang" / "Wang Lixin" / "L. Wang" / "WANG Lixin"; the Chinese
        name kept or dropped."""
        parts = latin_parts(t)
        if parts is None:
            c.update({k: t[k] for k in ("name", "name_zh", "name_en") if t.get(k)})
            self.kinds["name:same"] += 1
            return
        form = self._pick(
            "name", ("same", "given_first", "surname_first", "initial", "upper_surname"), (20, 25, 25, 15, 15)
        )
        if form == "same":
            c.update({k: t[k] for k in ("name", "name_zh", "name_en") if t.get(k)})
            return
        latin = name_form(*parts, form)
        c["name_en"] = latin
        zh = t.get("name_zh")
        if zh and self._pick("name_zh", ("kept", "missing"), (55, 45)) == "kept":
            c["name_zh"] = zh
            c["name"] = zh if self.rnd.random() < 0.5 else latin
        else:
            c["name"] = latin

    def _contact(self, t: dict, c: dict) -> None:
        rnd = self.rnd
        parts = latin_parts(t)
        local = "".join(ch for ch in "".join(parts or ("talent", "x")).lower() if ch.isascii() and ch.isalpha())
        other = f"{local}{rnd.randint(1, 99)}@{rnd.choice(DOMAINS)}"
        if t.get("email"):
            kind = self._pick("email", ("same", "other", "missing"), (45, 25, 30))
            c["email"] = {"same": t["email"], "other": other, "missing": None}[kind]
        elif rnd.random() < 0.3:
            c["email"] = other
            self.kinds["email:other"] += 1
        if t.get("phone"):
            kind = self._pick("phone", ("same", "reformatted", "missing"), (35, 35, 30))
            digits = t["phone"].replace("+86", "").replace(" ", "")
            fmt = rnd.choice(
                (f"{digits[:3]} {digits[3:7]} {digits[7:]}", f"+86-{digits}", f"0086 {digits}", f"+86{digits}", digits)
            )
            c["phone"] = {"same": t["phone"], "reformatted": fmt, "missing": None}[kind]

    def _employer(self, t: dict, c: dict, employers: list[str]) -> None:
        """Same, abbreviated (有限公司, Ltd., University dropped or shortened), the university's other-language name,
        a newer employer, or missing; a kind that does not apply to this employer falls back to the next one."""
        emp = t.get("employer")
        if not emp:
            return
        options = ("same", "abbreviated", "other_language", "newer", "missing")
        kind = self.rnd.choices(options, (45, 12, 10, 15, 18))[0]
        short = emp
        for long, repl in (("有限公司", ""), (" Ltd.", ""), ("University of ", "Univ. of "), ("University", "Univ.")):
            if long in emp:
                short = emp.replace(long, repl).strip()
                break
        if kind == "other_language" and emp not in _UNI_OTHER:
            kind = "abbreviated"
        if kind == "abbreviated" and short == emp:
            kind = "same"
        if kind == "newer":
            newer = self.rnd.choice(employers)
            kind, short = ("newer", newer) if newer != emp else ("same", emp)
        c["employer"] = {"same": emp, "abbreviated": short, "other_language": _UNI_OTHER.get(emp), "newer": short}.get(
            kind
        )
        self.kinds[f"employer:{kind}"] += 1

    def _works(self, t: dict, c: dict) -> None:
        rnd = self.rnd
        works = t.get("works") or []
        if not works:
            return
        kept = [dict(w) for w in works if rnd.random() < 0.7] or [dict(rnd.choice(works))]
        self.kinds["works:subset" if len(kept) < len(works) else "works:same"] += 1
        for w in kept:
            if rnd.random() < 0.4 and (title := _edit_title(w["title"], rnd.choice(_TITLE_EDITS))) != w["title"]:
                w["title"] = title
                self.kinds["works:title_variant"] += 1
        if rnd.random() < 0.25 and c.get("skills"):
            s1, s2 = rnd.choice(c["skills"]), rnd.choice(c["skills"])
            year = min(NOW.year, max(w.get("year") or 2015 for w in works) + rnd.randint(0, 2))
            kept.append({"title": f"{s1[:1].upper()}{s1[1:]} for {s2}: new results", "kind": "paper", "year": year})
            self.kinds["works:new"] += 1
        c["works"] = kept
        c["publication_count"] = max(len(kept), t.get("publication_count", 0) + rnd.randint(-2, 2))
        if c.get("h_index") and rnd.random() < 0.4:
            del c["h_index"]

    def _summary(self, t: dict, c: dict) -> None:
        s = t.get("summary")
        if not s:
            return
        kind = self._pick("summary", ("same", "shorter", "reworded", "missing"), (30, 30, 15, 25))
        if kind == "shorter":
            cut = min((s.find(p) for p in ("，", "; ", ", ") if s.find(p) > 0), default=-1)
            c["summary"] = s[:cut] + ("。" if s[cut] == "，" else ".") if cut > 0 else s
        elif kind == "reworded":
            c["summary"] = self.rnd.choice(VAGUE_SUMMARIES["zh" if any(ord(ch) > 0x2E80 for ch in s) else "en"])
        elif kind == "missing":
            del c["summary"]

    def _updated(self, t: dict, c: dict) -> None:
        base = datetime.fromisoformat(t["updated_at"]) if t.get("updated_at") else NOW - timedelta(days=400)
        shift = timedelta(days=self.rnd.randint(1, 500), minutes=self.rnd.randint(0, 1439))
        when = base + shift if base + shift <= NOW and self.rnd.random() < 0.5 else base - shift
        c["updated_at"] = when.isoformat()
        consent = dict(c.get("consent") or {})
        consent["updated_at"] = c["updated_at"]
        c["consent"] = consent
        self.kinds["updated_at:differs"] += 1


def _edit_title(title: str, edit: str) -> str:
    """A small variation of a work title as another source stores it: case, punctuation."""
    if edit == "lower":
        return title.lower()
    if edit == "upper_first":
        return title.title() if title.isascii() else title
    if edit == "strip_punct":
        return "".join(ch for ch in title if ch not in ":：,，.。;；-—\"'“”()（）").strip()
    if edit == "add_period":
        return title + ("。" if not title.isascii() else ".")
    return title.replace(": ", " - ").replace("：", " — ")


def add_duplicates(
    rnd: random.Random, talents: list[dict], share: float, width: int
) -> tuple[list[dict], dict[int, list[int]], Counter[str]]:
    """Birth years for everyone, namesake groups, then 1–3 copies for ``share`` of the persons, appended after the
    originals with the next ids. Returns the copies, each original's copies' positions (in the whole talent list)
    and the variation kinds applied."""
    n = len(talents)
    with_birth_years(rnd, talents)
    add_namesakes(rnd, talents, max(1, round(n * share / 4)))
    employers = sorted({t["employer"] for t in talents if t.get("employer")})
    maker = CopyMaker(rnd)
    copies: list[dict] = []
    copies_of: dict[int, list[int]] = {}
    # Weighted sampling without replacement (Efraimidis–Spirakis): incubator talents, listed by their incubator
    # and again by a platform, are INCUBATOR_WEIGHT times as likely to arrive twice.
    keys = [rnd.random() ** (1 / (INCUBATOR_WEIGHT if t.get("incubator_id") else 1)) for t in talents]
    chosen = sorted(sorted(range(n), key=keys.__getitem__, reverse=True)[: min(n, round(n * share))])
    for i in chosen:
        for _ in range(rnd.choices(*COPIES)[0]):
            pos = n + len(copies)
            copies.append(maker.copy(talents[i], f"T{pos + 1:0{width}d}", employers))
            copies_of.setdefault(i, []).append(pos)
    return copies, copies_of, maker.kinds
