"""The simulated world: chains and assets, countries, addresses, and the population of wallets.

Everything is drawn from one seeded :class:`random.Random`, so a seed gives the same world.

>>> import random
>>> population = Population.build(random.Random(7), accounts=60)
>>> len(population.accounts), sorted(population.mixers) == sorted(set(population.mixers))
(60, True)
>>> account = population.accounts[0]
>>> account.address.startswith(CHAINS[account.chain].prefix)
True
>>> lookalike(random.Random(1), "0x1234abcdef0123456789abcdef0123456789beef")[:6]
'0x1234'
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from fraudcore.schemas import Channel

HEX = "0123456789abcdef"
BASE32 = "023456789acdefghjklmnpqrstuvwxyz"  # bech32's alphabet
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Chain:
    name: str
    prefix: str
    alphabet: str
    body: int  # characters after the prefix
    native: str
    assets: tuple[str, ...]
    fee_usd: float  # median network fee
    share: float  # share of accounts whose main chain it is


CHAINS: dict[str, Chain] = {
    c.name: c
    for c in (
        Chain("ethereum", "0x", HEX, 40, "ETH", ("ETH", "USDT", "USDC"), 1.8, 0.55),
        Chain("bitcoin", "bc1q", BASE32, 38, "BTC", ("BTC",), 1.2, 0.25),
        Chain("solana", "", BASE58, 44, "SOL", ("SOL", "USDC"), 0.002, 0.20),
    )
}
PRICES_USD: dict[str, float] = {"ETH": 3200.0, "BTC": 68000.0, "SOL": 150.0, "USDT": 1.0, "USDC": 1.0}
# mixers take fixed denominations, which is part of what makes them mixers
MIXER_DENOMINATIONS: dict[str, tuple[float, ...]] = {
    "ETH": (0.1, 1.0, 10.0),
    "BTC": (0.01, 0.1, 1.0),
    "SOL": (10.0, 100.0),
    "USDT": (1000.0, 10000.0),
    "USDC": (1000.0, 10000.0),
}

# (ISO country, UTC offset in hours, share of accounts)
# fmt: off
COUNTRIES: tuple[tuple[str, int, float], ...] = (
    ("US", -5, 0.22), ("GB", 0, 0.07), ("DE", 1, 0.07), ("FR", 1, 0.05), ("NL", 1, 0.02),
    ("TR", 3, 0.05), ("NG", 1, 0.05), ("AE", 4, 0.02), ("IN", 5, 0.08), ("SG", 8, 0.03),
    ("VN", 7, 0.04), ("PH", 8, 0.03), ("KR", 9, 0.05), ("JP", 9, 0.04), ("AU", 10, 0.03),
    ("BR", -3, 0.06), ("AR", -3, 0.03), ("CA", -5, 0.03), ("MX", -6, 0.03),
)
# fmt: on
COUNTRY_CODES = tuple(c for c, _, _ in COUNTRIES)
TZ_OFFSET = {c: tz for c, tz, _ in COUNTRIES}


def new_address(rng: random.Random, chain: str) -> str:
    """A fresh address in the chain's format."""
    spec = CHAINS[chain]
    return spec.prefix + "".join(rng.choices(spec.alphabet, k=spec.body))


def lookalike(rng: random.Random, address: str, keep: int = 4) -> str:
    """An address that shares the first and last ``keep`` characters of ``address`` (address poisoning)."""
    chain = chain_of(address)
    spec = CHAINS[chain]
    start, end = len(spec.prefix) + keep, len(address) - keep
    while True:
        middle = "".join(rng.choices(spec.alphabet, k=end - start))
        if middle != address[start:end]:
            return address[:start] + middle + address[end:]


def chain_of(address: str) -> str:
    if address.startswith("0x"):
        return "ethereum"
    if address.startswith("bc1q"):
        return "bitcoin"
    return "solana"


# relative activity by local hour: quiet at night, busiest in the evening
# fmt: off
RHYTHM = (
    0.15, 0.10, 0.08, 0.08, 0.10, 0.15, 0.30, 0.50, 0.65, 0.70, 0.75, 0.80,
    0.85, 0.80, 0.75, 0.75, 0.80, 0.85, 0.90, 1.00, 1.00, 0.90, 0.60, 0.30,
)
# fmt: on


@dataclass
class Account:
    """A wallet with a persistent profile; the ``*_seen`` sets grow as it transacts.

    ``kind`` is ``customer`` for people (they have devices, a country and a channel) or the
    business behind a service address (``exchange``, ``merchant``, ``dex``, ``airdrop``),
    which sends from its own infrastructure: no device, no country.
    """

    id: str
    address: str
    chain: str
    country: str | None
    tz: int
    rate_per_day: float
    assets: tuple[str, ...]
    log_usd: float  # median amount, log USD
    sigma: float
    channel: Channel | None
    devices: list[str]
    counterparties: list[str]
    shops: list[str] = field(default_factory=list)  # merchants it usually pays
    active_from: float = 0.0  # simulated seconds since the start
    kind: str = "customer"
    countries_seen: set[str] = field(default_factory=set)
    channels_seen: set[Channel] = field(default_factory=set)
    devices_seen: set[str] = field(default_factory=set)

    def typical_usd(self, rng: random.Random, shift: float = 0.0) -> float:
        return math.exp(rng.gauss(self.log_usd + shift, self.sigma))


@dataclass
class Population:
    """Every wallet and service address, by chain."""

    accounts: list[Account]
    services: dict[str, dict[str, list[Account]]]  # chain -> kind -> service wallets
    mixers: dict[str, str]  # chain -> mixer address
    sanctioned: dict[str, list[str]]  # chain -> sanctioned addresses
    brokers: dict[str, list[str]]  # chain -> OTC brokers that deal with sanctioned addresses
    by_chain: dict[str, list[Account]]
    cum_rates: list[float]  # cumulative activity rates, for weighted choice

    @classmethod
    def build(cls, rng: random.Random, accounts: int, span_days: float = 30.0) -> Population:
        """Draw ``accounts`` wallets and the services around them."""
        services: dict[str, dict[str, list[Account]]] = {}
        mixers: dict[str, str] = {}
        sanctioned: dict[str, list[str]] = {}
        brokers: dict[str, list[str]] = {}
        scale = max(1, accounts // 500)
        for chain in CHAINS:
            kinds: dict[str, list[Account]] = {}
            for kind, count in (
                ("exchange", 4 + scale),
                ("merchant", 20 * scale),
                ("dex", 3),
                ("airdrop", 6),
            ):
                kinds[kind] = [service(rng, f"{kind}-{chain[:3]}-{i:04d}", chain, kind) for i in range(count)]
            services[chain] = kinds
            mixers[chain] = new_address(rng, chain)
            sanctioned[chain] = [new_address(rng, chain) for _ in range(3)]
            brokers[chain] = [new_address(rng, chain) for _ in range(3)]

        chains = list(CHAINS)
        chain_weights = [CHAINS[c].share for c in chains]
        countries = list(COUNTRY_CODES)
        country_weights = [w for _, _, w in COUNTRIES]
        people: list[Account] = []
        for _ in range(accounts):
            chain = rng.choices(chains, chain_weights)[0]
            # most wallets exist from the start; the rest open over the period
            opens = 0.0 if rng.random() < 0.8 else rng.uniform(0, span_days * 86400)
            people.append(customer(rng, chain, rng.choices(countries, country_weights)[0], opens))
        by_chain: dict[str, list[Account]] = {c: [a for a in people if a.chain == c] for c in CHAINS}
        for account in people:
            peers = by_chain[account.chain]
            own = [rng.choice(peers).address for _ in range(rng.randint(2, 6))]
            account.shops = [s.address for s in rng.sample(services[account.chain]["merchant"], 3)]
            account.counterparties = [a for a in dict.fromkeys(own) if a != account.address]
        cum, total = [], 0.0
        for account in people:
            total += account.rate_per_day
            cum.append(total)
        return cls(people, services, mixers, sanctioned, brokers, by_chain, cum)

    def customers(self, chain: str) -> list[Account]:
        return self.by_chain[chain]

    @property
    def daily_rate(self) -> float:
        """Legitimate transactions per simulated day, before the daily rhythm."""
        return self.cum_rates[-1]


def customer(rng: random.Random, chain: str, country: str, active_from: float = 0.0) -> Account:
    """A new customer wallet with a freshly drawn profile."""
    assets = CHAINS[chain].assets
    return Account(
        id=f"acc-{rng.getrandbits(36):09x}",
        address=new_address(rng, chain),
        chain=chain,
        country=country,
        tz=TZ_OFFSET[country],
        rate_per_day=min(60.0, rng.lognormvariate(math.log(3.0), 0.9)),
        assets=tuple(a for a in assets if a == assets[0] or rng.random() < 0.5),
        log_usd=rng.gauss(math.log(180.0), 1.1),
        sigma=rng.uniform(0.45, 0.95),
        channel=rng.choices(list(Channel), [0.35, 0.55, 0.10])[0],
        devices=[new_device(rng) for _ in range(rng.choice((1, 1, 2)))],
        counterparties=[],
        active_from=active_from,
    )


def service(rng: random.Random, name: str, chain: str, kind: str, address: str | None = None) -> Account:
    """A business's wallet: it sends from its own servers, so no device or country."""
    return Account(
        id=name,
        address=address or new_address(rng, chain),
        chain=chain,
        country=None,
        tz=0,
        rate_per_day=0.0,
        assets=CHAINS[chain].assets,
        log_usd=math.log(2000.0),
        sigma=1.0,
        channel=Channel.API,
        devices=[],
        counterparties=[],
        kind=kind,
    )


def new_device(rng: random.Random) -> str:
    return f"dev-{rng.getrandbits(40):010x}"
