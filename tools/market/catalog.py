"""Embedded coin catalogue: the coins CryptoGuard knows without asking a provider.

It seeds symbol resolution before (or without) a live coin list and defines the
offline market's universe. Reference prices, volatilities and supplies are rough,
late-2025 orders of magnitude used only to make the offline simulation realistic;
they are never shown as live data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoinSpec:
    """A known coin and the parameters of its offline simulation.

    Attributes:
        id: CoinGecko id.
        symbol: Upper-case ticker.
        name: Display name.
        rank: Market-cap rank used to break ticker ties offline.
        price_usd: Reference price for the simulation.
        annual_vol: Annualised volatility of log returns for the simulation.
        supply: Circulating supply (market cap = price x supply).
    """

    id: str
    symbol: str
    name: str
    rank: int
    price_usd: float
    annual_vol: float
    supply: float


@dataclass(frozen=True, slots=True)
class StablecoinSpec:
    """A known stablecoin and its peg.

    Attributes:
        id: CoinGecko id.
        symbol: Upper-case ticker.
        name: Display name.
        peg_type: DefiLlama peg type (``peggedUSD``, ``peggedEUR``).
        mechanism: ``fiat-backed``, ``crypto-backed`` or ``algorithmic``.
        supply: Circulating supply in peg units (offline simulation).
        llama_id: DefiLlama stablecoin id.
    """

    id: str
    symbol: str
    name: str
    peg_type: str
    mechanism: str
    supply: float
    llama_id: str


COINS: tuple[CoinSpec, ...] = (
    CoinSpec("bitcoin", "BTC", "Bitcoin", 1, 95_000.0, 0.55, 19_950_000),
    CoinSpec("ethereum", "ETH", "Ethereum", 2, 3_400.0, 0.70, 120_700_000),
    CoinSpec("ripple", "XRP", "XRP", 4, 2.30, 0.85, 60_000_000_000),
    CoinSpec("binancecoin", "BNB", "BNB", 5, 900.0, 0.50, 139_000_000),
    CoinSpec("solana", "SOL", "Solana", 6, 180.0, 0.90, 545_000_000),
    CoinSpec("dogecoin", "DOGE", "Dogecoin", 8, 0.20, 1.00, 150_000_000_000),
    CoinSpec("tron", "TRX", "TRON", 9, 0.30, 0.55, 94_700_000_000),
    CoinSpec("cardano", "ADA", "Cardano", 10, 0.70, 0.90, 36_000_000_000),
    CoinSpec("hyperliquid", "HYPE", "Hyperliquid", 12, 40.0, 1.10, 334_000_000),
    CoinSpec("chainlink", "LINK", "Chainlink", 13, 18.0, 0.90, 678_000_000),
    CoinSpec("stellar", "XLM", "Stellar", 15, 0.35, 0.90, 31_500_000_000),
    CoinSpec("bitcoin-cash", "BCH", "Bitcoin Cash", 16, 500.0, 0.75, 19_900_000),
    CoinSpec("sui", "SUI", "Sui", 17, 3.50, 1.10, 3_500_000_000),
    CoinSpec("avalanche-2", "AVAX", "Avalanche", 18, 25.0, 0.95, 422_000_000),
    CoinSpec("hedera-hashgraph", "HBAR", "Hedera", 19, 0.20, 0.95, 42_000_000_000),
    CoinSpec("litecoin", "LTC", "Litecoin", 20, 100.0, 0.75, 76_000_000),
    CoinSpec("shiba-inu", "SHIB", "Shiba Inu", 21, 0.000013, 1.00, 589_000_000_000_000),
    CoinSpec("the-open-network", "TON", "Toncoin", 22, 3.0, 0.85, 2_550_000_000),
    CoinSpec("monero", "XMR", "Monero", 23, 300.0, 0.70, 18_400_000),
    CoinSpec("polkadot", "DOT", "Polkadot", 25, 4.0, 0.95, 1_600_000_000),
    CoinSpec("uniswap", "UNI", "Uniswap", 26, 8.0, 1.00, 630_000_000),
    CoinSpec("pepe", "PEPE", "Pepe", 28, 0.00001, 1.20, 420_690_000_000_000),
    CoinSpec("aave", "AAVE", "Aave", 29, 250.0, 1.00, 15_200_000),
    CoinSpec("near", "NEAR", "NEAR Protocol", 31, 2.8, 1.05, 1_250_000_000),
    CoinSpec("internet-computer", "ICP", "Internet Computer", 33, 5.0, 1.00, 537_000_000),
    CoinSpec("aptos", "APT", "Aptos", 34, 5.0, 1.05, 660_000_000),
    CoinSpec("ethereum-classic", "ETC", "Ethereum Classic", 35, 18.0, 0.85, 153_000_000),
    CoinSpec("cosmos", "ATOM", "Cosmos Hub", 40, 4.5, 0.95, 470_000_000),
    CoinSpec("arbitrum", "ARB", "Arbitrum", 45, 0.40, 1.10, 5_300_000_000),
    CoinSpec("filecoin", "FIL", "Filecoin", 48, 2.5, 1.05, 700_000_000),
    CoinSpec("optimism", "OP", "Optimism", 55, 0.70, 1.10, 1_750_000_000),
    CoinSpec("injective-protocol", "INJ", "Injective", 60, 15.0, 1.10, 97_000_000),
    CoinSpec("bonk", "BONK", "Bonk", 62, 0.00002, 1.30, 80_000_000_000_000),
    CoinSpec("dogwifcoin", "WIF", "dogwifhat", 80, 0.80, 1.40, 999_000_000),
)

STABLECOINS: tuple[StablecoinSpec, ...] = (
    StablecoinSpec("tether", "USDT", "Tether", "peggedUSD", "fiat-backed", 183e9, "1"),
    StablecoinSpec("usd-coin", "USDC", "USD Coin", "peggedUSD", "fiat-backed", 75e9, "2"),
    StablecoinSpec("usds", "USDS", "USDS", "peggedUSD", "crypto-backed", 8e9, "209"),
    StablecoinSpec("ethena-usde", "USDE", "Ethena USDe", "peggedUSD", "crypto-backed", 9e9, "146"),
    StablecoinSpec("dai", "DAI", "Dai", "peggedUSD", "crypto-backed", 4.5e9, "5"),
    StablecoinSpec("paypal-usd", "PYUSD", "PayPal USD", "peggedUSD", "fiat-backed", 2.5e9, "120"),
    StablecoinSpec(
        "first-digital-usd", "FDUSD", "First Digital USD", "peggedUSD", "fiat-backed", 1e9, "119"
    ),
    StablecoinSpec("usdd", "USDD", "USDD", "peggedUSD", "algorithmic", 0.5e9, "33"),
    StablecoinSpec("true-usd", "TUSD", "TrueUSD", "peggedUSD", "fiat-backed", 0.5e9, "7"),
    StablecoinSpec("frax", "FRAX", "Frax", "peggedUSD", "algorithmic", 0.3e9, "6"),
    StablecoinSpec("euro-coin", "EURC", "EURC", "peggedEUR", "fiat-backed", 0.25e9, "50"),
    StablecoinSpec("stasis-eurs", "EURS", "STASIS EURO", "peggedEUR", "fiat-backed", 0.13e9, "51"),
)

#: Market-cap rank of stablecoins among all coins (for ticker tie-breaks offline).
STABLECOIN_RANKS: dict[str, int] = {
    "tether": 3,
    "usd-coin": 7,
    "usds": 14,
    "ethena-usde": 24,
    "dai": 30,
    "paypal-usd": 50,
    "first-digital-usd": 70,
    "usdd": 110,
    "true-usd": 150,
    "frax": 160,
    "euro-coin": 200,
    "stasis-eurs": 400,
}

#: Fiat reference rates (USD per unit) for the offline simulation.
FX_USD: dict[str, float] = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0066, "CHF": 1.13}

#: Extra names people use for coins (lower-case), mapped to coin ids.
ALIASES: dict[str, str] = {
    "xbt": "bitcoin",
    "ether": "ethereum",
    "eth2": "ethereum",
    "bnb": "binancecoin",
    "avax": "avalanche-2",
    "ton": "the-open-network",
    "toncoin": "the-open-network",
    "doge": "dogecoin",
    "shib": "shiba-inu",
    "dot": "polkadot",
    "icp": "internet-computer",
    "hbar": "hedera-hashgraph",
    "wif": "dogwifcoin",
    "usdc": "usd-coin",
    "usdt": "tether",
    "usde": "ethena-usde",
    "inj": "injective-protocol",
}
