"""Money as integer minor units of a currency Stripe can charge (a yen is JPY's unit)."""

from dataclasses import dataclass

from domain.errors import InvalidInput

MAX_AMOUNT = 99_999_999

THREE_DECIMAL = frozenset(
    {
        "bhd", "jod", "kwd", "omr", "tnd",
    }
)  # fmt: skip

# Stripe's zero-decimal currencies: the minor unit is the unit.
ZERO_DECIMAL = frozenset(
    {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
        "vuv", "xaf", "xof", "xpf",
    }
)  # fmt: skip

# Amounts Stripe takes only in whole steps of minor units: its three-decimal currencies end in
# 0, and ISK, two-decimal in the API, is charged and refunded in whole krónur only (Stripe's
# invalid_charge_amount_no_decimal_compatible).
STEP = {"isk": 100, **dict.fromkeys(THREE_DECIMAL, 10)}

# ISO 4217 codes Stripe settles card payments in.
SUPPORTED = frozenset(
    {
        "usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam",
        "bbd", "bdt", "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn",
        "bzd", "cad", "cdf", "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk",
        "dop", "dzd", "egp", "etb", "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf",
        "gtq", "gyd", "hkd", "hnl", "htg", "huf", "idr", "ils", "inr", "isk", "jmd", "jod",
        "jpy", "kes", "kgs", "khr", "kmf", "krw", "kwd", "kyd", "kzt", "lak", "lbp", "lkr",
        "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk", "mnt", "mop", "mur", "mvr", "mwk",
        "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr", "nzd", "omr", "pab", "pen",
        "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub", "rwf", "sar", "sbd",
        "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl", "thb", "tjs", "tnd",
        "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "uyu", "uzs", "vnd", "vuv", "wst",
        "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw",
    }
)  # fmt: skip

# Stripe's minimum charge per settlement currency, in minor units; others: 50.
MINIMUM_CHARGE = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip
DEFAULT_MINIMUM = 50


def normalise_currency(code: str) -> str:
    currency = code.lower()
    if currency not in SUPPORTED:
        raise InvalidInput("currency", f"'{code}' is not a supported ISO 4217 currency")
    return currency


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in the smallest unit of its currency (cents, yen, fils)."""

    amount: int
    currency: str

    @classmethod
    def charge(cls, amount: int, currency: str) -> "Money":
        """Money that Stripe will accept as a single charge."""
        code = normalise_currency(currency)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise InvalidInput("amount", "must be an integer number of minor units")
        minimum = MINIMUM_CHARGE.get(code, DEFAULT_MINIMUM)
        if amount < minimum:
            raise InvalidInput("amount", f"must be at least {minimum} for {code}")
        if amount > MAX_AMOUNT:
            raise InvalidInput("amount", f"must be at most {MAX_AMOUNT}")
        check_step(amount, code)
        return cls(amount, code)


def check_step(amount: int, currency: str, field: str = "amount") -> None:
    """Refuse an amount Stripe refuses in this currency: not a whole number of its steps."""
    step = STEP.get(currency, 1)
    if amount % step:
        raise InvalidInput(field, f"must be a multiple of {step} for {currency}")
