"""Reasons for a whole batch at once say exactly what the row-by-row function says."""

from __future__ import annotations

import numpy as np

from fraudcore.features import FEATURES
from fraudcore.models.explain import reasons, reasons_many


def test_batch_reasons_equal_row_by_row_reasons_ties_and_missing_values_included() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    x = rng.normal(2, 3, (n, len(FEATURES))).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 10:18] = rng.random((n, 8)) < 0.5
    pushes = rng.normal(0, 1, (n, len(FEATURES))).astype(np.float32)
    pushes[:, 5] = pushes[:, 6]  # equal pushes: ranked by the feature's name, as reasons() does
    pushes[rng.random(pushes.shape) < 0.05] = 0
    for k in (0, 1, 3, 10):
        expected = [
            reasons(
                dict(zip(FEATURES, r.tolist(), strict=True)), dict(zip(FEATURES, p.tolist(), strict=True)), k
            )
            if k
            else []
            for r, p in zip(x, pushes, strict=True)
        ]
        assert reasons_many(FEATURES, x, pushes, k) == expected
