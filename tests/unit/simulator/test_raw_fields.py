"""No single raw field gives fraud away: a depth-3 tree on one transaction's own fields stays weak."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score
from sklearn.tree import DecisionTreeClassifier

from tests.unit.simulator.conftest import Stream

CATEGORICAL = ["chain", "asset", "tx_type", "channel", "ip_country"]


def raw_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Every field of the transaction itself, numbers as they are and categories one-hot."""
    features = pd.DataFrame(
        {
            "amount": frame.amount,
            "amount_usd": frame.amount_usd,
            "fee": frame.fee,
            "fee_usd": frame.fee_usd,
            "hour": frame.event_time.dt.hour,
            "weekday": frame.event_time.dt.weekday,
            "has_device": frame.device_id.notna().astype(float),
        }
    )
    for flag in ("is_new_device", "is_new_country", "is_new_channel"):
        features[flag] = frame[flag].map({True: 1.0, False: 0.0}).fillna(-1.0)
    for column in CATEGORICAL:
        features = features.join(pd.get_dummies(frame[column].astype(str), prefix=column).astype(float))
    return features


def test_a_depth_3_tree_on_raw_fields_stays_below_half_average_precision(stream: Stream) -> None:
    frame = pd.DataFrame([t.tx.model_dump() for t in stream.txs])
    y = np.array([t.is_fraud for t in stream.txs])
    x = raw_features(frame)
    half = len(x) // 2
    for weights in (None, "balanced"):
        tree = DecisionTreeClassifier(max_depth=3, class_weight=weights, random_state=0)
        tree.fit(x[:half], y[:half])
        ap = average_precision_score(y[half:], tree.predict_proba(x[half:])[:, 1])
        assert ap < 0.5, (weights, ap)
        # and on its own training half, the most flattering measure, it stays low too
        assert average_precision_score(y[:half], tree.predict_proba(x[:half])[:, 1]) < 0.5
