"""A small world of duplicate persons with a known answer, for the people store, CLI and API tests.

200 persons with distinct Chinese names, an e-mail, an employer and one work each; every fifth (T000, T005, …)
also arrives in pinyin with the same e-mail and work (D000, …): 40 two-record persons, linked. W001–W003 are
T001–T003 in pinyin with nothing else (no employer, e-mail or work): maybe one person (probability ≈ 0.25–0.33,
between the review and the link threshold), so those three pairs are the review queue. ``extra`` records are for
re-runs: V003 is T003 in pinyin with its work (≈ 0.99: joins T003's person), N999 nobody's duplicate."""

from __future__ import annotations

from datetime import UTC, datetime

from pypinyin import lazy_pinyin

from features.records import Talent, Work

SURNAMES = "张李刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁"
GIVEN = "立新伟芳娜敏静丽强磊军洋勇艳杰娟涛明超"
REVIEW = [("T001", "W001"), ("T002", "W002"), ("T003", "W003")]


def _zh(i: int) -> str:
    return SURNAMES[i % 20] + GIVEN[i // 20] + GIVEN[(i * 7) % len(GIVEN)]


def _pinyin(i: int) -> str:
    surname, *given = lazy_pinyin(_zh(i))
    return f"{''.join(given).title()} {surname.title()}"


def people_talents() -> list[Talent]:
    talents = []
    for i in range(200):
        works = [Work(title=f"study number {i}")]
        talents.append(Talent(id=f"T{i:03d}", name=_zh(i), name_zh=_zh(i), email=f"p{i}@example.com",
                              employer=f"Employer {i % 13}", works=works,
                              updated_at=datetime(2024, 1, 1, tzinfo=UTC)))  # fmt: skip
        if i % 5 == 0:
            talents.append(Talent(id=f"D{i:03d}", name=_pinyin(i), email=f"p{i}@example.com", works=works,
                                  skills=["perovskite"], updated_at=datetime(2025, 6, 1, tzinfo=UTC)))  # fmt: skip
    for i in (1, 2, 3):
        talents.append(Talent(id=f"W{i:03d}", name=_pinyin(i)))
    return talents


def extra() -> list[Talent]:
    return [
        Talent(id="V003", name=_pinyin(3), works=[Work(title="study number 3")]),
        Talent(id="N999", name="Nobody Else", email="nobody@example.com"),
    ]
