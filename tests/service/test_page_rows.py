"""A served row's receipt detail: the JSON a receipt stores for it, built once per page."""

import json

import numpy as np

from features.schema import SCHEMA
from service.ranking import PageRow


def test_a_receipt_detail_rounds_values_and_writes_undefined_ones_as_null():
    names = SCHEMA.names
    features = np.full(len(names), 0.12345678, np.float32)
    features[0], features[1], features[2] = np.nan, np.inf, -np.inf  # e.g. salary_ratio of a post without a budget
    contributions = np.zeros(len(names) + 1, np.float32)
    contributions[-1] = np.nan
    row = PageRow(page_id="p", position=0, talent_id="t", score=0.5, reasons=[], human_review=False,
                  features=features, contributions=contributions)  # fmt: skip
    detail = json.loads(row.receipt_detail)
    assert list(detail["features"]) == names and list(detail["contributions"]) == [*names, "bias"]
    assert [detail["features"][n] for n in names[:4]] == [None, None, None, 0.123457]
    assert detail["contributions"]["bias"] is None and detail["contributions"][names[0]] == 0.0
