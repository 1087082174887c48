"""Features from a wallet's past: one engine for training (state in memory) and scoring (state in Redis)."""

from fraudcore.features.engine import (
    FEATURES,
    OPTIONAL_INPUTS,
    STEP_FEATURES,
    FeatureConfig,
    FeatureEngine,
    TxFeatures,
    schema_version,
    unavailable,
)
from fraudcore.features.state import AddressState, MemoryStore, RedisStore, StateStore

__all__ = [
    "FEATURES",
    "OPTIONAL_INPUTS",
    "STEP_FEATURES",
    "AddressState",
    "FeatureConfig",
    "FeatureEngine",
    "MemoryStore",
    "RedisStore",
    "StateStore",
    "TxFeatures",
    "schema_version",
    "unavailable",
]
