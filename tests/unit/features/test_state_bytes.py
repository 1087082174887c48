"""A state's bytes in Redis: they round-trip, the sequence stays packed, and states saved as JSON load."""

from __future__ import annotations

import binascii
from typing import Any

import orjson
import ormsgpack

from fraudcore.features import STEP_FEATURES
from fraudcore.features.engine import _STEP
from fraudcore.features.state import _FIELDS, AddressState, Events, _values, pack_rows, unpack_rows

ROWS = [[0.1234, 0.0, 1.0, 5.0, -2.5] + [0.0] * (len(STEP_FEATURES) - 5), [1.5] * len(STEP_FEATURES)]
SEQUENCE, SENT, INFLOW = (_FIELDS.index(name) for name in ("sequence", "sent", "inflow"))


def busy_state() -> AddressState:
    return AddressState(
        first_seen=1.0,
        n_sent=2,
        last_sent=1_795_982_329.169887,
        sent=Events.of_rows(
            [[1_795_982_000.5, 120.25, "0xshop", 1], [1_795_982_329.169887, 99.0, "0xshop", 0]]
        ),
        counterparties=["0xshop"],
        devices=["dev-1"],
        sequence=pack_rows(ROWS),
        inflow=Events.of_rows([[1_795_981_000.0, 5000.0, "0xexchange"]]),
        bad_at=None,
        exposed_at=1_795_982_100.0,
        recent_ids=["tx-1", "tx-2"],
    )


def test_a_state_round_trips_exactly_with_its_sequence_as_raw_float32_bytes() -> None:
    state = busy_state()
    data = state.to_bytes()
    assert ormsgpack.unpackb(data)[SEQUENCE] == state.sequence  # one byte string, not 2 x 13 numbers
    again = AddressState.from_bytes(data)
    assert again == state
    assert again.sent.times[1] == 1_795_982_329.169887  # times keep every digit (binary doubles)
    assert unpack_rows(again.sequence, len(STEP_FEATURES))[1] == ROWS[1]
    assert abs(unpack_rows(again.sequence, len(STEP_FEATURES))[0][0] - 0.1234) < 1e-7  # float32


def test_the_event_lists_travel_as_columns() -> None:
    """Times and amounts as float64 bytes, the peers as one list: not a small list an event."""
    state = busy_state()
    sent = ormsgpack.unpackb(state.to_bytes())[SENT]
    assert sent == [state.sent.times.tobytes(), state.sent.usd.tobytes(), ["0xshop", "0xshop"], b"\x01\x00"]
    assert len(sent[0]) == 2 * 8


def old_layout(state: AddressState) -> list[Any]:
    """The state's values as saved before its event lists were columns: ``[time, usd, peer(, flag)]`` rows."""
    values = list(_values(state))
    values[SENT] = state.sent.rows()
    values[INFLOW] = [row[:3] for row in state.inflow.rows()]
    return values


def test_states_saved_with_the_event_lists_as_rows_still_load() -> None:
    state = busy_state()
    assert AddressState.from_bytes(ormsgpack.packb(old_layout(state))) == state


def test_states_saved_as_json_still_load() -> None:
    """States in Redis from before MessagePack keep working (no version bump, no flush)."""
    state = busy_state()
    values = old_layout(state)
    values[SEQUENCE] = binascii.b2a_base64(state.sequence, newline=False).decode()  # JSON's layout
    assert AddressState.from_bytes(orjson.dumps(values)) == state


def test_states_saved_with_the_sequence_as_lists_still_load_packed() -> None:
    """States from before the sequence was packed: a JSON list of step vectors."""
    values = old_layout(AddressState(first_seen=1.0))
    values[SEQUENCE] = ROWS
    assert AddressState.from_bytes(orjson.dumps(values)).sequence == pack_rows(ROWS)


def test_the_engine_packs_a_step_as_pack_rows_does() -> None:
    for row in ROWS:
        assert _STEP.pack(*row) == pack_rows([row])
    assert (
        pack_rows([]) == b""
        and AddressState.from_bytes(AddressState(first_seen=0.0).to_bytes()).sequence == b""
    )
