"""A state's JSON: the packed LSTM sequence round-trips, and a state saved before it was packed loads."""

from __future__ import annotations

import orjson

from fraudcore.features import STEP_FEATURES
from fraudcore.features.engine import _STEP
from fraudcore.features.state import _FIELDS, AddressState, pack_rows, unpack_rows

ROWS = [[0.1234, 0.0, 1.0, 5.0, -2.5] + [0.0] * (len(STEP_FEATURES) - 5), [1.5] * len(STEP_FEATURES)]


def test_the_sequence_round_trips_as_base64_and_float32() -> None:
    state = AddressState(first_seen=1.0, n_sent=2, sequence=pack_rows(ROWS))
    text = state.to_json()
    assert isinstance(orjson.loads(text)[_FIELDS.index("sequence")], str)  # one string, not 2 x 13 numbers
    again = AddressState.from_json(text)
    assert again == state
    assert unpack_rows(again.sequence, len(STEP_FEATURES))[1] == ROWS[1]
    assert abs(unpack_rows(again.sequence, len(STEP_FEATURES))[0][0] - 0.1234) < 1e-7  # float32


def test_a_state_saved_with_the_sequence_as_lists_loads_packed() -> None:
    """States in Redis from before the sequence was packed keep working (no version bump, no flush)."""
    values = list(orjson.loads(AddressState(first_seen=1.0).to_json()))
    values[_FIELDS.index("sequence")] = ROWS  # the old layout: a list of step vectors
    state = AddressState.from_json(orjson.dumps(values))
    assert state.sequence == pack_rows(ROWS)


def test_the_engine_packs_a_step_as_pack_rows_does() -> None:
    for row in ROWS:
        assert _STEP.pack(*row) == pack_rows([row])
    assert (
        pack_rows([]) == b""
        and AddressState.from_json(AddressState(first_seen=0.0).to_json()).sequence == b""
    )
