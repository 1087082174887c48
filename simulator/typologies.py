"""Fraud typologies, each a process that behaves over time the way that kind of fraud does.

Every transaction an incident makes carries its typology as ground truth (never on the
transaction itself). No single field of one transaction gives an incident away: victims
pay in their usual range from their usual device, drains look like large withdrawals,
structuring looks like any amount under the threshold; what gives them away is history
(a wallet's own past, an address's fan-in, look-alike counterparties, exposure to
addresses already known to be bad).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fraudcore.schemas import Channel, TxType
from simulator.world import CHAINS, MIXER_DENOMINATIONS, PRICES_USD, lookalike, new_address, new_device

if TYPE_CHECKING:
    from simulator.economy import Economy, Process

from simulator.economy import Draft, log_uniform, seconds


@dataclass(frozen=True)
class Typology:
    name: str
    weight: float  # share of incidents
    mean_size: float  # transactions per incident, on average (paces the launcher)
    run: Callable[[Economy], Process]
    description: str


def account_takeover(e: Economy) -> Process:
    """A stolen login on a new device (often from abroad) drains the wallet to a fresh address in minutes."""
    rng, name = e.rng, "account_takeover"
    victim = e.any_customer()
    drop = new_address(rng, victim.chain)
    device = new_device(rng)
    country = e.other_country(victim.country) if rng.random() < 0.6 else victim.country
    channel = rng.choice((Channel.WEB, Channel.API))
    parts = rng.randint(2, 5)
    total = victim.typical_usd(rng) * rng.uniform(8, 40)
    for i in range(parts):
        share = total / parts * rng.uniform(0.6, 1.4)
        asset = victim.assets[i % len(victim.assets)]
        yield Draft(
            victim,
            drop,
            asset,
            share,
            TxType.WITHDRAWAL,
            name,
            device=device,
            country=country,
            channel=channel,
        )
        yield rng.uniform(20, 600)


def scam_collector(e: Economy) -> Process:
    """A new address collects payments from many unrelated victims (fake investments), then cashes out."""
    rng, name = e.rng, "scam_collector"
    chain = e.pick_chain()
    collector = e.fresh_wallet(chain)
    victims = rng.randint(12, 45)
    gap = seconds(rng.uniform(2, 8)) / victims
    received = 0.0
    for _ in range(victims):
        victim = e.customer_on(chain, exclude=collector.address)
        usd = victim.typical_usd(rng, rng.uniform(0.2, 1.4))
        usd = max(50.0, round(usd / 50) * 50)  # "send 500 USDT to activate your account"
        received += usd
        yield Draft(
            victim,
            collector.address,
            victim.assets[-1],
            usd,
            rng.choice((TxType.TRANSFER, TxType.PAYMENT)),
            name,
        )
        yield rng.expovariate(1 / gap)
    for _ in range(rng.randint(1, 3)):
        yield rng.uniform(600, seconds(3))
        target = e.population.mixers[chain] if rng.random() < 0.4 else e.service_on(chain, "exchange").address
        yield Draft(
            collector,
            target,
            CHAINS[chain].assets[-1],
            received * rng.uniform(0.3, 0.5),
            TxType.WITHDRAWAL,
            name,
        )


def mixer_routing(e: Economy) -> Process:
    """Dirty funds go into a mixer in its fixed denominations, several deposits within the hour."""
    rng, name = e.rng, "mixer_routing"
    chain = "ethereum" if rng.random() < 0.7 else e.pick_chain()
    sender = e.customer_on(chain) if rng.random() < 0.3 else e.fresh_wallet(chain)
    asset = CHAINS[chain].native
    denomination = rng.choice(MIXER_DENOMINATIONS[asset])
    for _ in range(rng.randint(3, 8)):
        yield Draft(
            sender,
            e.population.mixers[chain],
            asset,
            denomination * PRICES_USD[asset],
            TxType.WITHDRAWAL,
            name,
            amount=denomination,
        )
        yield rng.uniform(60, 1200)


def peel_chain(e: Economy) -> Process:
    """A large balance hops through fresh addresses; each hop peels a small part off to an exchange."""
    rng, name = e.rng, "peel_chain"
    chain = "bitcoin" if rng.random() < 0.6 else "ethereum"
    asset = CHAINS[chain].native
    balance = log_uniform(rng, 20_000, 400_000)
    source = e.fresh_wallet(chain)  # the proceeds of a hack
    hop = e.fresh_wallet(chain)
    yield Draft(source, hop.address, asset, balance, TxType.TRANSFER, name)
    for _ in range(rng.randint(5, 12)):
        yield rng.uniform(120, 1800)
        peel = balance * rng.uniform(0.03, 0.12)
        yield Draft(hop, e.service_on(chain, "exchange").address, asset, peel, TxType.WITHDRAWAL, name)
        yield rng.uniform(5, 90)
        balance -= peel
        following = e.fresh_wallet(chain)
        yield Draft(hop, following.address, asset, balance * 0.999, TxType.TRANSFER, name)
        hop = following


def structuring(e: Economy, threshold: float | None = None) -> Process:
    """Many amounts just under the reporting threshold, over a day or two, to one to three receivers."""
    rng, name = e.rng, "structuring"
    threshold = threshold or e.config.reporting_threshold_usd
    sender = e.any_customer() if rng.random() < 0.7 else e.fresh_wallet(e.pick_chain())
    receivers = [new_address(rng, sender.chain) for _ in range(rng.randint(1, 3))]
    count = rng.randint(4, 10)
    gap = seconds(rng.uniform(6, 48)) / count
    asset = "USDT" if "USDT" in sender.assets else sender.assets[-1]
    for _ in range(count):
        yield Draft(
            sender, rng.choice(receivers), asset, threshold * rng.uniform(0.90, 0.995), TxType.TRANSFER, name
        )
        yield rng.expovariate(1 / gap)


def mule_fan_out(e: Economy) -> Process:
    """Stolen funds land on one wallet and fan out to money mules within the hour; mules cash out later."""
    rng, name = e.rng, "mule_fan_out"
    chain = e.pick_chain()
    asset = CHAINS[chain].assets[-1]
    hub, source = e.fresh_wallet(chain), e.fresh_wallet(chain)
    mules = [e.fresh_wallet(chain) for _ in range(rng.randint(6, 15))]
    total = log_uniform(rng, 5_000, 120_000)
    yield Draft(source, hub.address, asset, total, TxType.TRANSFER, name)
    yield rng.uniform(60, 1800)
    for mule in mules:
        yield Draft(
            hub, mule.address, asset, total / len(mules) * rng.uniform(0.9, 1.1), TxType.TRANSFER, name
        )
        yield rng.uniform(10, 240)
    cashing = sorted(
        (rng.uniform(seconds(1), seconds(12)), i) for i in range(len(mules)) if rng.random() < 0.6
    )
    waited = 0.0
    for at, i in cashing:
        yield at - waited
        waited = at
        yield Draft(
            mules[i],
            e.service_on(chain, "exchange").address,
            asset,
            total / len(mules) * rng.uniform(0.9, 0.98),
            TxType.WITHDRAWAL,
            name,
        )


def address_poisoning(e: Economy) -> Process:
    """Dust from a look-alike of a usual counterparty; later the victim copies that address and pays it."""
    rng, name = e.rng, "address_poisoning"
    victim = e.any_customer()
    peers = victim.counterparties
    if not peers:
        return
    target = peers[0] if rng.random() < 0.6 else rng.choice(peers)
    poisoner = e.fresh_wallet(victim.chain, lookalike(rng, target))
    asset = victim.assets[-1]
    yield Draft(poisoner, victim.address, asset, rng.uniform(0.0001, 0.02), TxType.TRANSFER, name)
    if rng.random() < 0.55:
        yield rng.uniform(seconds(1), seconds(48))
        yield Draft(victim, poisoner.address, asset, victim.typical_usd(rng, 0.3), TxType.TRANSFER, name)


def sanctioned_exposure(e: Economy) -> Process:
    """Payments to a sanctioned address, directly or through an OTC broker that deals with it."""
    rng, name = e.rng, "sanctioned_exposure"
    chain = e.pick_chain()
    payer = e.customer_on(chain) if rng.random() < 0.7 else e.fresh_wallet(chain)
    sanctioned = rng.choice(e.population.sanctioned[chain])
    asset = payer.assets[-1]
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 2)):
            yield Draft(
                payer, sanctioned, asset, payer.typical_usd(rng, rng.uniform(0, 1.5)), TxType.TRANSFER, name
            )
            yield rng.uniform(60, seconds(6))
        return
    broker = e.wallet(rng.choice(e.population.brokers[chain]), chain)
    usd = payer.typical_usd(rng, rng.uniform(0.5, 2.0))
    yield Draft(payer, broker.address, asset, usd, TxType.TRANSFER, name)
    yield rng.uniform(600, seconds(6))
    yield Draft(broker, sanctioned, asset, usd * rng.uniform(0.9, 0.99), TxType.TRANSFER, name)


TYPOLOGIES: dict[str, Typology] = {
    t.name: t
    for t in (
        Typology("account_takeover", 0.20, 3.5, account_takeover, account_takeover.__doc__ or ""),
        Typology("scam_collector", 0.03, 30.5, scam_collector, scam_collector.__doc__ or ""),
        Typology("mixer_routing", 0.12, 5.5, mixer_routing, mixer_routing.__doc__ or ""),
        Typology("peel_chain", 0.05, 18.0, peel_chain, peel_chain.__doc__ or ""),
        Typology("structuring", 0.10, 7.0, structuring, structuring.__doc__ or ""),
        Typology("mule_fan_out", 0.07, 17.0, mule_fan_out, mule_fan_out.__doc__ or ""),
        Typology("address_poisoning", 0.25, 1.5, address_poisoning, address_poisoning.__doc__ or ""),
        Typology("sanctioned_exposure", 0.18, 2.2, sanctioned_exposure, sanctioned_exposure.__doc__ or ""),
    )
}
