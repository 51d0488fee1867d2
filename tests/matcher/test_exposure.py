"""The exposure table on a hand-computed example: two needs, four talents, one pushed group and one hidden one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.records import Talent
from matcher.exposure import UNKNOWN, exposure_table, position_weight, talent_attributes


def attributes() -> pd.DataFrame:
    return talent_attributes(
        [
            Talent(id="cn1", name="cn1", nationality="CN", tier="B", residence={"country": "CN"}),
            Talent(id="cn2", name="cn2", nationality="CN", tier="C", residence={"country": "CN"}),
            Talent(id="de1", name="d", nationality="DE", tier="B", residence={"country": "DE"}, incubator_id="i-de"),
            Talent(id="x1", name="x1"),
        ]
    )


def test_position_weight_is_the_dcg_discount() -> None:
    assert position_weight(np.array([1, 3, 7])) == pytest.approx([1.0, 0.5, 1 / 3])
    with pytest.raises(ValueError, match="1-based"):
        position_weight(np.array([0]))


def test_exposure_against_relevance_by_nationality() -> None:
    # Both needs show the Chinese talents on top and the German one third: weights 1, 1/log2(3), 1/2.
    shown = pd.DataFrame(
        {"need_id": ["n1"] * 3 + ["n2"] * 3, "talent_id": ["cn1", "cn2", "de1"] * 2, "position": [1, 2, 3] * 2}
    )
    # The German talent is relevant to both needs, one Chinese talent to one: relevance CN 1/3, DE 2/3.
    relevant = pd.DataFrame({"need_id": ["n1", "n2", "n1", "n1"], "talent_id": ["de1", "de1", "cn1", "cn1"]})
    table = exposure_table(shown, relevant, attributes(), by=["nationality"])
    total = 2 * (1 + 1 / np.log2(3) + 0.5)
    de = table.set_index("group").loc["DE"]
    cn = table.set_index("group").loc["CN"]
    assert de["shown"] == 2 and cn["shown"] == 4
    assert de["shown_share"] == pytest.approx(1 / 3)
    assert de["exposure_share"] == pytest.approx(1.0 / total)
    assert de["relevant"] == 2 and de["relevant_share"] == pytest.approx(2 / 3)
    assert de["ratio"] == pytest.approx((1.0 / total) / (2 / 3))
    assert cn["ratio"] == pytest.approx((1 - 1.0 / total) / (1 / 3))
    assert list(table["group"]) == ["DE", "CN"]  # the hidden group first
    assert table["exposure_share"].sum() == pytest.approx(1.0)


def test_every_attribute_and_unknown_groups() -> None:
    shown = pd.DataFrame({"need_id": ["n1", "n1"], "talent_id": ["x1", "gone"], "position": [1, 2]})
    relevant = pd.DataFrame({"need_id": ["n1"], "talent_id": ["cn1"]})
    table = exposure_table(shown, relevant, attributes())
    assert set(table["attribute"]) == {"nationality", "tier", "residence", "incubator"}
    inc = table[table["attribute"] == "incubator"].set_index("group")
    assert inc.loc[UNKNOWN, "shown"] == 2  # x1 states none, "gone" is no longer known
    assert inc.loc[UNKNOWN, "ratio"] == pytest.approx(1.0)
    tier = table[table["attribute"] == "tier"].set_index("group")
    assert tier.loc["B", "relevant"] == 1 and tier.loc["B", "shown"] == 0 and tier.loc["B", "ratio"] == 0.0
    assert np.isnan(table[(table["attribute"] == "nationality") & (table["group"] == UNKNOWN)]["ratio"]).all()


def test_empty_inputs_and_missing_columns() -> None:
    empty = pd.DataFrame({"need_id": [], "talent_id": [], "position": []})
    table = exposure_table(empty, empty[["need_id", "talent_id"]], attributes())
    assert table.empty
    with pytest.raises(ValueError, match="position"):
        exposure_table(empty[["need_id", "talent_id"]], empty, attributes())
