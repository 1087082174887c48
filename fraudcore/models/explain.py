"""Why a transaction scored high, in words a person reads: from XGBoost's per-feature contributions.

>>> named = {"amount_vs_usual": 14.2, "receiver_senders_1h": 37.0, "new_device": 1.0}
>>> pushes = {"amount_vs_usual": 1.9, "receiver_senders_1h": 2.4, "new_device": -0.1}
>>> reasons(named, pushes)
['receiver paid by 37 distinct wallets in the last hour', "amount 14x this wallet's usual"]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _hours(value: float) -> str:
    if value < 1:
        return f"{value * 60:.0f} minutes"
    if value < 48:
        return f"{value:.0f} hours"
    return f"{value / 24:.0f} days"


PHRASES: dict[str, Callable[[float], str | None]] = {
    "log_amount_usd": lambda v: f"amount ${_n(math.expm1(v))}",
    "sender_tx_1h": lambda v: f"{_n(v)} transactions from this wallet in the last hour",
    "sender_tx_24h": lambda v: f"{_n(v)} transactions from this wallet in the last day",
    "sender_usd_24h_log": lambda v: f"${_n(math.expm1(v))} sent by this wallet in the last day",
    "sender_history_log": lambda v: (
        "a wallet with no history" if v == 0 else f"{_n(math.expm1(v))} earlier sends"
    ),
    "seconds_since_last_log": lambda v: (
        f"{_hours(math.expm1(v) / 3600)} since this wallet's last transaction"
    ),
    "sender_age_hours": lambda v: f"wallet first seen {_hours(v)} ago",
    "amount_vs_usual": lambda v: (
        f"amount {v:.0f}x this wallet's usual" if v >= 2 else "amount below this wallet's usual"
    ),
    "amount_zscore": lambda v: f"amount {v:+.1f} standard deviations from this wallet's usual",
    "share_of_daily_volume": lambda v: f"amount {v:.0f}x this wallet's average daily volume",
    "new_counterparty": lambda v: "first payment to this receiver" if v else None,
    "new_receivers_1h": lambda v: f"{_n(v)} new receivers in the last hour",
    "distinct_receivers_1h": lambda v: f"{_n(v)} distinct receivers in the last hour",
    "repeat_amount_24h": lambda v: f"the same amount sent {_n(v)} times in the last day" if v else None,
    "new_device": lambda v: "from a device this wallet never used" if v else None,
    "new_country": lambda v: "from a country this wallet never used" if v else None,
    "new_channel": lambda v: "through a channel this wallet never used" if v else None,
    "hours_since_new_access": lambda v: f"a new device or country {_hours(v)} ago" if v < 48 else None,
    "pass_through": lambda v: f"sends on {v:.0%} of what it received in the last day",
    "sender_inflow_24h_log": lambda v: f"received ${_n(math.expm1(v))} in the last day",
    "near_threshold": lambda v: "amount just under the reporting threshold" if v else None,
    "near_threshold_7d": lambda v: (
        f"{_n(v)} amounts just under the reporting threshold in 7 days" if v else None
    ),
    "receiver_seen_before": lambda v: "receiver never seen before" if not v else None,
    "receiver_age_hours": lambda v: f"receiver first seen {_hours(v)} ago",
    "receiver_senders_1h": lambda v: f"receiver paid by {_n(v)} distinct wallets in the last hour",
    "receiver_senders_24h": lambda v: f"receiver paid by {_n(v)} distinct wallets in the last day",
    "receiver_inflow_24h_log": lambda v: f"receiver took in ${_n(math.expm1(v))} in the last day",
    "receiver_history_log": lambda v: f"receiver has {_n(math.expm1(v))} earlier payments",
    "lookalike_receiver": lambda v: (
        "receiver looks like one of this wallet's usual counterparties but is not" if v else None
    ),
    "lookalike_sender": lambda v: (
        "sent from a look-alike of one of the receiver's counterparties" if v else None
    ),
    "receiver_known_bad": lambda v: "receiver already confirmed in fraud" if v else None,
    "receiver_exposed": lambda v: "receiver dealt with an address confirmed in fraud" if v else None,
    "sender_known_bad": lambda v: "sender already confirmed in fraud" if v else None,
    "sender_exposed": lambda v: "sender dealt with an address confirmed in fraud" if v else None,
}


def reasons(named: Mapping[str, float], contributions: Mapping[str, float], k: int = 3) -> list[str]:
    """The ``k`` features that pushed the score up most, phrased; features without a phrase are skipped."""
    ranked = sorted(((c, f) for f, c in contributions.items() if c > 0 and f in PHRASES), reverse=True)
    out: list[str] = []
    for _, feature in ranked:
        value = named.get(feature, math.nan)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        text = PHRASES[feature](value)
        if text and text not in out:
            out.append(text)
        if len(out) == k:
            break
    return out


def reasons_many(
    features: Sequence[str], values: np.ndarray, pushes: np.ndarray, k: int = 3
) -> list[list[str]]:
    """:func:`reasons` for every row of ``values`` / ``pushes`` (n, features), ranked in one numpy sort.

    The same phrases in the same order as :func:`reasons` row by row (ties in a push are
    broken by the feature's name, as there), without building two dicts and sorting every
    feature of every row in Python.
    """
    if k <= 0 or len(values) == 0:
        return [[] for _ in range(len(values))]
    names = np.asarray(features)
    by_name_desc = np.argsort(np.argsort(names))[::-1].copy()  # a larger name sorts first on a tie
    ranks = np.broadcast_to(-by_name_desc.astype(np.float64), pushes.shape)
    order = np.lexsort((ranks, -pushes.astype(np.float64)), axis=-1)
    phrases = [PHRASES.get(f) for f in features]
    out: list[list[str]] = []
    for row, push, ranked in zip(values.tolist(), pushes.tolist(), order.tolist(), strict=True):
        found: list[str] = []
        for j in ranked:
            if push[j] <= 0:
                break
            phrase, value = phrases[j], row[j]
            if phrase is None or value is None or math.isnan(value):
                continue
            text = phrase(value)
            if text and text not in found:
                found.append(text)
                if len(found) == k:
                    break
        out.append(found)
    return out
