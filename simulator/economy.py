"""The event engine: legitimate activity, fraud incidents and delayed ground truth, in time order.

The economy is a discrete-event simulation. Each actor is a *process*, a generator that
yields either a :class:`Draft` (a transaction to make now) or a number (seconds to wait).
The legitimate economy is one process; each fraud incident is another, started by a
launcher at the configured fraud rate. Ground truth for every fraud transaction is queued
and comes out as a :class:`~fraudcore.schemas.Label` once its delay has passed in
simulated time, so labels arrive hours after the fraud, as chargebacks do.

>>> from datetime import UTC, datetime
>>> from fraudcore.settings import SimulatorSettings
>>> economy = Economy(SimulatorSettings(accounts=200), seed=3, start=datetime(2026, 1, 1, tzinfo=UTC))
>>> first = next(e for e in economy.events() if isinstance(e, SimulatedTransaction))
>>> first.tx.event_time >= datetime(2026, 1, 1, tzinfo=UTC), first.typology
(True, None)
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fraudcore.schemas import Channel, Label, Transaction, TxType
from fraudcore.settings import SimulatorSettings
from simulator.world import (
    CHAINS,
    COUNTRY_CODES,
    PRICES_USD,
    RHYTHM,
    Account,
    Population,
    customer,
    new_address,
    new_device,
)

LEGIT = None  # the typology of a legitimate transaction
SERVICE_SHARE = 0.15  # share of legitimate traffic sent by businesses (payouts, refunds, airdrops)
MAX_COUNTERPARTIES = 14


@dataclass(slots=True)
class Draft:
    """A transaction a process wants to make now; the engine fills in the rest."""

    sender: Account
    receiver: str
    asset: str
    usd: float
    tx_type: TxType
    typology: str | None = LEGIT
    amount: float | None = None  # exact amount in the asset's units, when it matters (mixers)
    device: str | None = None  # None: the sender's usual device
    country: str | None = None  # None: the sender's home country
    channel: Channel | None = None  # None: the sender's usual channel


@dataclass(frozen=True, slots=True)
class SimulatedTransaction:
    """A transaction as produced, with its ground truth, which never travels with it."""

    tx: Transaction
    typology: str | None  # None when legitimate

    @property
    def is_fraud(self) -> bool:
        return self.typology is not None


Event = SimulatedTransaction | Label
Process = Iterator[Draft | float]


class Economy:
    """A seeded synthetic crypto economy. Iterate :meth:`events` for transactions and labels in time order."""

    def __init__(
        self,
        config: SimulatorSettings,
        seed: int,
        start: datetime,
        *,
        stamp_produced_at: bool = False,
    ) -> None:
        from simulator.typologies import TYPOLOGIES  # the incidents need the engine's helpers

        self.config = config
        self.seed = seed
        self.start = start.astimezone(UTC)
        self.rng = random.Random(seed)
        self.population = Population.build(self.rng, config.accounts)
        self.now = 0.0  # simulated seconds since start
        self.stamp_produced_at = stamp_produced_at
        self.counts: Counter[str] = Counter()  # typology (or "legit") -> transactions
        self.labels_published = 0
        self.labels_withheld = 0
        self._typologies = TYPOLOGIES
        self._queue: list[tuple[float, int, Process]] = []
        self._labels: list[tuple[float, int, Label]] = []
        self._seq = 0
        self._extra: dict[str, Account] = {}  # wallets created by incidents, by address
        self._last_used: dict[str, int] = {}
        self._schedule(0.0, self._legit())
        self._schedule(0.0, self._launches())
        self._schedule(0.0, self._launcher())

    # --- the engine ---------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        """Transactions and labels, in simulated-time order, without end."""
        queue, labels = self._queue, self._labels
        while queue:
            when, _, process = heapq.heappop(queue)
            while labels and labels[0][0] <= when:
                self.labels_published += 1
                yield heapq.heappop(labels)[2]
            self.now = when
            for step in process:
                if isinstance(step, Draft):
                    yield self._make(step)
                else:
                    self._schedule(when + max(step, 0.0), process)
                    break

    def pending_labels(self) -> list[Label]:
        """Labels queued but not yet due (at the end of a finite run)."""
        pending = [label for _, _, label in sorted(self._labels)]
        self.labels_published += len(pending)
        self._labels.clear()
        return pending

    def spawn(self, process: Process, delay: float = 0.0) -> None:
        """Start another process ``delay`` simulated seconds from now."""
        self._schedule(self.now + delay, process)

    def _schedule(self, when: float, process: Process) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, process))

    @property
    def natural_rate(self) -> float:
        """Transactions per simulated second, roughly (the daily rhythm averages about 0.62)."""
        return self.population.daily_rate / 86400 * 0.62 / (1 - SERVICE_SHARE)

    def time_at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    # --- turning a draft into a transaction ---------------------------------------

    def _make(self, d: Draft) -> SimulatedTransaction:
        rng, sender = self.rng, d.sender
        price = PRICES_USD[d.asset]
        if d.amount is not None:
            amount = d.amount
        else:
            amount = d.usd / price
            if d.typology is None and rng.random() < 0.35:
                amount = float(f"{amount:.2g}")  # people type round amounts
            amount = round(amount, 8)
        native = CHAINS[sender.chain].native
        fee_usd = CHAINS[sender.chain].fee_usd * rng.lognormvariate(0.0, 0.5)
        fields: dict[str, object] = {}
        if sender.kind == "customer":
            device = d.device or self._usual_device(sender)
            country = d.country or sender.country
            channel = d.channel or sender.channel
            history = bool(sender.devices_seen)
            fields = {
                "device_id": device,
                "ip_country": country,
                "channel": channel,
                "is_new_device": history and device not in sender.devices_seen,
                "is_new_country": history and country not in sender.countries_seen,
                "is_new_channel": history and channel not in sender.channels_seen,
            }
            sender.devices_seen.add(device)
            sender.countries_seen.add(country)  # type: ignore[arg-type]
            sender.channels_seen.add(channel)  # type: ignore[arg-type]
        else:
            fields = {"channel": Channel.API}
        tx = Transaction(
            tx_id=f"tx-{rng.getrandbits(64):016x}",
            event_time=self.time_at(self.now),
            sender_account_id=sender.id,
            sender_address=sender.address,
            receiver_address=d.receiver,
            amount=amount,
            amount_usd=round(amount * price, 2),
            chain=sender.chain,
            asset=d.asset,
            fee=round(fee_usd / PRICES_USD[native], 10),
            fee_usd=round(fee_usd, 4),
            tx_type=d.tx_type,
            produced_at=datetime.now(UTC) if self.stamp_produced_at else None,
            **fields,  # type: ignore[arg-type]
        )
        self.counts[d.typology or "legit"] += 1
        if d.typology is not None:
            self._queue_label(tx, d.typology)
        return SimulatedTransaction(tx, d.typology)

    def _usual_device(self, account: Account) -> str:
        devices = account.devices
        return devices[0] if len(devices) == 1 or self.rng.random() < 0.8 else self.rng.choice(devices)

    def _queue_label(self, tx: Transaction, typology: str) -> None:
        if self.rng.random() < self.config.unlabelled_fraction:
            self.labels_withheld += 1
            return
        delay = self.config.label_delay_hours * 3600 * self.rng.lognormvariate(0.0, 0.5)
        due = self.now + delay
        label = Label(tx_id=tx.tx_id, is_fraud=True, typology=typology, labelled_at=self.time_at(due))
        self._seq += 1
        heapq.heappush(self._labels, (due, self._seq, label))

    # --- helpers for the processes -------------------------------------------------

    def customer_on(self, chain: str, exclude: str | None = None) -> Account:
        """A random customer on ``chain`` whose wallet is open by now."""
        pool = self.population.customers(chain)
        while True:
            account = self.rng.choice(pool)
            if account.active_from <= self.now and account.address != exclude:
                return account

    def any_customer(self) -> Account:
        return self.customer_on(self.pick_chain())

    def pick_chain(self) -> str:
        return self.rng.choices(list(CHAINS), [c.share for c in CHAINS.values()])[0]

    def fresh_wallet(self, chain: str, address: str | None = None, country: str | None = None) -> Account:
        """A customer wallet opened just now (a criminal's, a mule's), registered by address."""
        wallet = customer(self.rng, chain, country or self.rng.choice(COUNTRY_CODES), self.now)
        if address is not None:
            wallet.address = address
        self._extra[wallet.address] = wallet
        return wallet

    def wallet(self, address: str, chain: str) -> Account:
        """The wallet behind an address an incident created earlier (or a new one for it)."""
        return self._extra.get(address) or self.fresh_wallet(chain, address)

    def service_on(self, chain: str, kind: str) -> Account:
        return self.rng.choice(self.population.services[chain][kind])

    def other_country(self, home: str | None) -> str:
        return self.rng.choice([c for c in COUNTRY_CODES if c != home])

    # --- legitimate activity ---------------------------------------------------------

    def _legit(self) -> Process:
        """The whole legitimate economy as one Poisson process, thinned by each wallet's daily rhythm."""
        rng, population = self.rng, self.population
        per_second = population.daily_rate / 86400 / (1 - SERVICE_SHARE)
        accounts, cum = population.accounts, population.cum_rates
        while True:
            yield rng.expovariate(per_second)
            if rng.random() < SERVICE_SHARE:
                yield self._service_send()
                continue
            account = accounts[bisect_left(cum, rng.random() * cum[-1])]
            if account.active_from > self.now:
                continue
            local_hour = int((self.now / 3600 + account.tz) % 24)
            if rng.random() > RHYTHM[local_hour]:
                continue
            yield self._legit_send(account)

    def _legit_send(self, a: Account) -> Draft:
        rng = self.rng
        asset = a.assets[0] if len(a.assets) == 1 or rng.random() < 0.6 else rng.choice(a.assets)
        shift = 2.3 if rng.random() < 0.01 else 0.0  # now and then, a purchase ten times the usual
        kind = rng.random()
        if kind < 0.52 and a.counterparties:  # friends and own wallets elsewhere
            receiver, tx_type = self._usual(a), TxType.TRANSFER
        elif kind < 0.70:
            if a.shops and rng.random() < 0.75:
                shop = rng.choice(a.shops)
            else:
                shop = self.service_on(a.chain, "merchant").address
            receiver, tx_type, shift = shop, TxType.PAYMENT, shift - 0.4
        elif kind < 0.80:
            receiver, tx_type, shift = (
                self.service_on(a.chain, "exchange").address,
                TxType.WITHDRAWAL,
                shift + 0.4,
            )
        elif kind < 0.86:
            receiver, tx_type = self.service_on(a.chain, "dex").address, TxType.SWAP
        elif kind < 0.865:
            # moving savings to a new wallet of one's own (cold storage): large, to a never-seen address
            receiver, tx_type, shift = (
                new_address(rng, a.chain),
                TxType.WITHDRAWAL,
                shift + rng.uniform(1.6, 3.4),
            )
            a.counterparties.append(receiver)
        else:
            # a new counterparty: another customer or a brand-new address of a friend
            if rng.random() < 0.6:
                receiver = self.customer_on(a.chain, exclude=a.address).address
            else:
                receiver = new_address(rng, a.chain)
            tx_type = TxType.TRANSFER
            a.counterparties.append(receiver)
            if len(a.counterparties) > MAX_COUNTERPARTIES:
                a.counterparties.pop(0)
        device = country = None
        if rng.random() < 0.004:  # a new phone
            device = new_device(rng)
            a.devices.append(device)
            if len(a.devices) > 3:
                a.devices.pop(0)
        if rng.random() < 0.003:  # travelling, sometimes with a new phone too
            country = self.other_country(a.country)
            if rng.random() < 0.3:
                device = new_device(rng)
                a.devices.append(device)
        channel = None if rng.random() < 0.93 else rng.choice(list(Channel))
        return Draft(
            a,
            receiver,
            asset,
            a.typical_usd(rng, shift),
            tx_type,
            device=device,
            country=country,
            channel=channel,
        )

    def _launches(self) -> Process:
        """Legitimate launches (a token sale, an NFT mint): a new address paid by many customers within hours.

        They look like a scam collector at first sight, which is the point: fan-in alone is not fraud.
        """
        rng = self.rng
        while True:
            yield rng.expovariate(1 / (8 * 3600))
            chain = "ethereum" if rng.random() < 0.7 else "solana"
            sale = new_address(rng, chain)
            asset = CHAINS[chain].native
            price = rng.choice((0.02, 0.05, 0.08, 0.1)) if asset == "ETH" else rng.choice((0.5, 1.0, 2.0))
            buyers = rng.randint(15, 70)
            gap = rng.uniform(1, 6) * 3600 / buyers
            self.spawn(self._sale(chain, sale, asset, price, buyers, gap))

    def _sale(self, chain: str, sale: str, asset: str, price: float, buyers: int, gap: float) -> Process:
        for _ in range(buyers):
            buyer = self.customer_on(chain)
            amount = price * self.rng.choice((1, 1, 1, 2, 3))
            yield Draft(buyer, sale, asset, amount * PRICES_USD[asset], TxType.PAYMENT, amount=amount)
            yield self.rng.expovariate(1 / gap)

    def _usual(self, a: Account) -> str:
        """A usual counterparty, the first ones most often."""
        index = min(int(self.rng.expovariate(0.45)), len(a.counterparties) - 1)
        return a.counterparties[index]

    def _service_send(self) -> Draft:
        rng = self.rng
        chain = self.pick_chain()
        kind = rng.random()
        receiver = self.customer_on(chain)
        if kind < 0.07:  # spam airdrops: dust to many wallets
            sender = self.service_on(chain, "airdrop")
            asset = CHAINS[chain].assets[-1]
            return Draft(sender, receiver.address, asset, rng.uniform(0.0001, 0.5), TxType.TRANSFER)
        if kind < 0.85:  # exchange withdrawals to their customers
            sender = self.service_on(chain, "exchange")
            return Draft(
                sender,
                receiver.address,
                receiver.assets[0],
                receiver.typical_usd(rng, 0.6),
                TxType.WITHDRAWAL,
            )
        sender = self.service_on(chain, "merchant")  # refunds and payouts
        return Draft(
            sender, receiver.address, receiver.assets[0], receiver.typical_usd(rng, -0.5), TxType.PAYMENT
        )

    # --- fraud ------------------------------------------------------------------------

    def _launcher(self) -> Process:
        """Start fraud incidents at a pace that keeps fraud near ``config.fraud_rate`` of all transactions."""
        rng, config = self.rng, self.config
        names = list(self._typologies)
        weights = [t.weight for t in self._typologies.values()]
        mean_size = sum(t.weight * t.mean_size for t in self._typologies.values()) / sum(weights)
        if config.fraud_rate <= 0:
            return
        legit_per_second = self.population.daily_rate / 86400 * 0.62 / (1 - SERVICE_SHARE)
        fraud_share = config.fraud_rate / (1 - config.fraud_rate)
        while True:
            total = sum(self.counts.values())
            observed = total / self.now if self.now > 3600 and total > 200 else legit_per_second
            # steer towards the target: incidents still unfolding and chance make the share drift
            drift = 1.0
            if total > 5000:
                actual = 1 - self.counts["legit"] / total
                drift = min(2.0, max(0.5, config.fraud_rate / max(actual, 1e-4)))
            yield rng.expovariate(observed * fraud_share * drift / mean_size)
            name = rng.choices(names, weights)[0]
            self.spawn(self._typologies[name].run(self))


def seconds(hours: float) -> float:
    return hours * 3600.0


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))
