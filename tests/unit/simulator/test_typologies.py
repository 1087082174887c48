"""Each typology is there and has its shape: a peel chain peels, a collector collects, and so on."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from fraudcore.schemas import Transaction
from simulator.economy import SimulatedTransaction
from simulator.world import CHAINS, MIXER_DENOMINATIONS, chain_of
from tests.unit.simulator.conftest import Stream


def of(stream: Stream, typology: str) -> list[Transaction]:
    txs = [t.tx for t in stream.txs if t.typology == typology]
    assert txs, typology
    return txs


def complete(stream: Stream, txs: list[Transaction], hours: float = 60) -> list[Transaction]:
    """Leave out incidents that may still have been unfolding when the stream ended."""
    end = stream.txs[-1].tx.event_time - timedelta(hours=hours)
    return [t for t in txs if t.event_time < end]


def test_account_takeover_drains_to_a_fresh_address_from_a_new_device(stream: Stream) -> None:
    seen_before: dict[str, object] = {}
    for t in stream.txs:
        seen_before.setdefault(t.tx.receiver_address, t.tx.event_time)
        seen_before.setdefault(t.tx.sender_address, t.tx.event_time)
    drains: dict[str, list[Transaction]] = defaultdict(list)
    for tx in of(stream, "account_takeover"):
        drains[tx.receiver_address].append(tx)
    for txs in drains.values():
        first = txs[0]
        assert seen_before[first.receiver_address] == first.event_time  # never seen before the drain
        assert len({t.sender_address for t in txs}) == 1
        assert txs[-1].event_time - first.event_time < timedelta(minutes=45)
        history = [t for t in stream.txs if t.tx.sender_address == first.sender_address]
        if history[0].tx is not first:  # a wallet's very first transaction has nothing to be new against
            assert first.is_new_device is True


def test_scam_collector_collects_from_many_unrelated_victims(stream: Stream) -> None:
    senders: dict[str, set[str]] = defaultdict(set)
    for tx in complete(stream, of(stream, "scam_collector")):
        senders[tx.receiver_address].add(tx.sender_address)
    collectors = {r: s for r, s in senders.items() if len(s) > 3}
    assert collectors
    for victims in collectors.values():
        assert len(victims) >= 10


def test_mixer_routing_deposits_fixed_denominations_into_a_mixer(stream: Stream) -> None:
    mixers = set(stream.economy.population.mixers.values())
    for tx in of(stream, "mixer_routing"):
        assert tx.receiver_address in mixers
        assert tx.amount in MIXER_DENOMINATIONS[tx.asset or ""]


def test_peel_chain_really_peels(stream: Stream) -> None:
    txs = of(stream, "peel_chain")
    received: dict[str, float] = {}
    outgoing: dict[str, list[Transaction]] = defaultdict(list)
    for tx in txs:
        received.setdefault(tx.receiver_address, tx.amount)
        outgoing[tx.sender_address].append(tx)
    hops = [a for a in outgoing if a in received and len(outgoing[a]) == 2]
    assert len(hops) > 20
    for hop in hops:
        peel, onward = sorted(outgoing[hop], key=lambda t: t.amount)
        assert peel.event_time <= onward.event_time
        assert peel.amount < 0.15 * received[hop]  # a small part off to an exchange
        assert 0.8 * received[hop] < onward.amount < received[hop]  # the rest to the next fresh address
        assert onward.receiver_address in received


def test_structuring_stays_just_under_the_threshold(stream: Stream) -> None:
    threshold = stream.economy.config.reporting_threshold_usd
    txs = of(stream, "structuring")
    per_sender: dict[str, int] = defaultdict(int)
    for tx in txs:
        assert 0.89 * threshold <= tx.amount_usd < threshold
        per_sender[tx.sender_address] += 1
    assert max(per_sender.values()) >= 4


def test_mule_fan_out_spreads_to_many_fresh_wallets_quickly(stream: Stream) -> None:
    out: dict[str, list[Transaction]] = defaultdict(list)
    for tx in complete(stream, of(stream, "mule_fan_out")):
        out[tx.sender_address].append(tx)
    hubs = [txs for txs in out.values() if len(txs) >= 6]
    assert hubs
    for txs in hubs:
        assert len({t.receiver_address for t in txs}) >= 6
        assert txs[-1].event_time - txs[0].event_time < timedelta(hours=1)


def test_address_poisoning_sends_dust_from_a_lookalike_then_the_victim_pays_it(stream: Stream) -> None:
    txs = of(stream, "address_poisoning")
    dust = [t for t in txs if t.amount_usd < 1]
    paid = {t.receiver_address: t for t in txs if t.amount_usd >= 1}
    assert dust and paid
    lookalikes = {t.sender_address for t in dust}
    for receiver, payment in paid.items():
        assert receiver in lookalikes
        poison = next(t for t in dust if t.sender_address == receiver)
        assert poison.receiver_address == payment.sender_address  # the victim pays back the look-alike
        assert poison.event_time < payment.event_time
        # it looks like one of the victim's usual counterparties: same first and last characters
        victim = next(a for a in stream.economy.population.accounts if a.address == payment.sender_address)
        victim_peers = victim.counterparties + [
            t.tx.receiver_address for t in stream.txs if t.tx.sender_address == payment.sender_address
        ]
        keep = len(CHAINS[chain_of(receiver)].prefix) + 4
        assert any(
            p != receiver and p[:keep] == receiver[:keep] and p[-4:] == receiver[-4:] for p in victim_peers
        )


def test_sanctioned_exposure_is_direct_or_one_hop(stream: Stream) -> None:
    population = stream.economy.population
    sanctioned = {a for addresses in population.sanctioned.values() for a in addresses}
    brokers = {a for addresses in population.brokers.values() for a in addresses}
    txs = of(stream, "sanctioned_exposure")
    assert any(t.receiver_address in sanctioned for t in txs)
    assert any(t.receiver_address in brokers for t in txs)
    for tx in txs:
        assert tx.receiver_address in sanctioned | brokers


def test_legitimate_traffic_never_touches_bad_addresses(stream: Stream) -> None:
    population = stream.economy.population
    bad = set(population.mixers.values())
    bad |= {a for addresses in population.sanctioned.values() for a in addresses}
    legit: list[SimulatedTransaction] = [t for t in stream.txs if not t.is_fraud]
    assert not [t for t in legit if t.tx.receiver_address in bad]
