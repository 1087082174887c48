"""The LSTM's sequences: the engine's state and training's rebuild from step vectors are the same."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from fraudcore.features import STEP_FEATURES, FeatureConfig, FeatureEngine, MemoryStore
from fraudcore.settings import SimulatorSettings
from fraudcore.training.history import featurise
from simulator.economy import Economy, SimulatedTransaction
from simulator.output import take


def test_rebuilt_sequences_equal_the_engine_state() -> None:
    economy = Economy(SimulatorSettings(accounts=100), seed=4, start=datetime(2026, 4, 1, tzinfo=UTC))
    txs = [e.tx for e in take(economy, 3000) if isinstance(e, SimulatedTransaction)]
    config = FeatureConfig(sequence_length=5)
    online = FeatureEngine(MemoryStore(), config).transform(txs, sequences=True)
    history = featurise(txs, pd.DataFrame({"tx_id": [], "labelled_at": []}), config, progress=False)
    rebuilt = history.sequences(np.arange(len(txs)))
    assert rebuilt.shape == (len(txs), 5, len(STEP_FEATURES))
    for i, feats in enumerate(online):
        kept = np.asarray(feats.steps(), dtype=np.float32)
        assert np.array_equal(rebuilt[i, 5 - len(kept) :], kept)
        assert not rebuilt[i, : 5 - len(kept)].any()  # zero padding in front
