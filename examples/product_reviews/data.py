"""Synthetic product reviews: the stream the product-review example logs.

Sentences mention a company, usually a product, and an adjective; three of four adjectives are
positive and 5% of rows are missing (``None``), so the integrity monitor has nulls to find.
Adjectives are single word-piece tokens of the BERT uncased vocabulary, so a masked-LM's top-k
predictions can contain them.

>>> rows = generate(8, seed=1)
>>> len(rows)
8
>>> all(r is None or isinstance(r, str) for r in rows)
True
"""

from __future__ import annotations

import random

COMPANIES = ["Nike", "Adidas", "Puma", "Reebok", "Asics", "Fila", "Umbro", "Converse"]
# Nike is over-represented, as the company the example's team cares about.
COMPANY_WEIGHTS = [4, 2, 1, 1, 1, 1, 1, 1]

PRODUCTS = [
    "shoes",
    "sneakers",
    "running shoes",
    "athletic wear",
    "tshirts",
    "trousers",
    "hoodies",
    "jackets",
    "socks",
    "shorts",
    "trousers and hoodies",
]

POSITIVE_ADJECTIVES = [
    "comfortable",
    "durable",
    "lightweight",
    "affordable",
    "reliable",
    "soft",
    "elegant",
    "great",
    "excellent",
    "amazing",
    "awesome",
    "good",
    "nice",
    "beautiful",
    "fantastic",
    "versatile",
    "sturdy",
    "fashionable",
    "cozy",
    "flexible",
    "supportive",
    "wonderful",
    "perfect",
    "superb",
    "lovely",
    "sleek",
    "cool",
    "gorgeous",
]

NEGATIVE_ADJECTIVES = [
    "uncomfortable",
    "ugly",
    "bad",
    "terrible",
    "awful",
    "poor",
    "heavy",
    "fragile",
    "boring",
    "disappointing",
    "expensive",
    "cheap",
    "horrible",
    "stiff",
    "weak",
]

INTENSIFIERS = ["very", "really", "quite", "extremely", "so", "super"]

PRODUCT_TEMPLATES = [
    "{company} {product} are {very} {adj}",
    "{company} {product} are known for being {very} {adj}",
    "{company} {product} are famous for being {adj}",
    "{product} made by {company} are {very} {adj}",
    "{product} made by {company} are not very {neg}",
    "{company} {adj} {product} are {very} {adj2}",
    "i think {company} {product} are {very} {adj}",
    "my new {company} {product} are {adj} and {adj2}",
    "the {company} {product} i bought are {very} {adj}",
]

OTHER_TEMPLATES = [
    "the {company} store staff were {very} {adj}",
    "{company} announced results that analysts called {adj}",
    "the {company} website is {very} {adj}",
    "{company} customer service was {adj}",
]


def _sentence(rng: random.Random) -> str:
    company = rng.choices(COMPANIES, COMPANY_WEIGHTS)[0]
    positive = rng.random() < 0.75
    pool = POSITIVE_ADJECTIVES if positive else NEGATIVE_ADJECTIVES
    other = NEGATIVE_ADJECTIVES if positive else POSITIVE_ADJECTIVES
    templates = PRODUCT_TEMPLATES if rng.random() < 0.8 else OTHER_TEMPLATES
    text = rng.choice(templates).format(
        company=company,
        product=rng.choice(PRODUCTS),
        very=rng.choice(INTENSIFIERS),
        adj=rng.choice(pool),
        adj2=rng.choice(pool),
        neg=rng.choice(other),
    )
    return text[0].upper() + text[1:]


def generate(n: int = 25_000, seed: int = 0, null_rate: float = 0.05) -> list[str | None]:
    """``n`` review sentences (``None`` for about ``null_rate`` of them), reproducible by seed.

    >>> generate(3, seed=0) == generate(3, seed=0)
    True
    """
    rng = random.Random(seed)
    return [None if rng.random() < null_rate else _sentence(rng) for _ in range(n)]
