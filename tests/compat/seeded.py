"""Seeded data for the ported UpTrain 0.2 examples (the same values under either library).

Only the standard library and numpy, so it runs in the scratch UpTrain venv (Python 3.10,
numpy 1.24) as in curate's. Each generator follows the data the UpTrain example used (its
helper functions or its description), with a fixed seed.
"""

from __future__ import annotations

import random
import string

import numpy as np

PRODUCTS = [
    "gym wear", "jackets", "shirts", "running shoes", "basketballs", "caps", "pants", "socks",
    "trousers", "training shoes", "basketball shoes", "shoes", "athletic wear", "sports wear",
    "footballs", "performance gear", "hats", "sweaters", "tshirts", "wristbands", "backpacks",
    "tshirts", "hoodies", "trainers", "soccer shoes",
]  # fmt: skip
POSITIVE_SENTIMENT_ADJECTIVES = [
    "user-friendly", "innovative", "support", "good-looking", "efficient", "stylish",
    "breathable", "flexibility", "trendsetting", "performance", "impressive", "resilient",
    "durability", "durable", "athletic", "breathability", "cheap", "comfort", "comfortable",
    "inexpensive", "premium", "sleek", "performance-oriented", "fashionable", "quality",
    "flexible", "stability", "look", "functional", "sporty", "lightweight", "bounce", "grip",
    "modern", "fit", "ergonomic", "versatile", "style", "design", "cushioning", "traction",
    "high-quality", "revolutionary",
]  # fmt: skip
NEGATIVE_SENTIMENT_ADJECTIVES = [
    "uncomfortable", "flimsy", "poor quality", "outdated", "unfashionable", "heavy", "inferior",
    "unathletic", "expensive", "costly", "overpriced", "defective", "ugly", "dirty", "faulty",
    "non-durable", "tacky", "lacking in performance", "clunky", "bulky", "awkward",
    "disappointing", "unreliable", "displeasing", "unsatisfactory",
]  # fmt: skip
COMPANIES = [
    "nike", "nike", "nike", "nike", "nike", "nike", "nike", "adidas", "puma", "under armour",
    "reebok", "converse", "vans", "fila", "asics",
]  # fmt: skip
JOINERS = [
    "are", "is", "offer", "provide", "feature", "boast", "are known for being",
    "are recognized for being", "are famous for being", "are renowned for being",
    "are praised for being",
]  # fmt: skip


def create_sample_dataset(dataset_size: int, seed: int = 7) -> dict:
    """The masked-LM notebook's ``create_sample_dataset``, with its own seeded ``random``."""
    rnd = random.Random(seed)
    sentences = []
    for _ in range(dataset_size):
        company, joiner = rnd.choice(COMPANIES), rnd.choice(JOINERS)
        product, label = rnd.choice(PRODUCTS), rnd.randint(0, 3)
        if label == 0:
            adjective = rnd.choice(NEGATIVE_SENTIMENT_ADJECTIVES)
        else:
            label, adjective = 1, rnd.choice(POSITIVE_SENTIMENT_ADJECTIVES)
        if rnd.randint(0, 1) == 0:
            sentence = f"{company} {product} {joiner} {adjective}"
        else:
            sentence = f"{product} made by {company} {joiner} {adjective}"
        sentences.append({"text": sentence, "label": label})
    for _ in range(int(0.05 * dataset_size)):
        rnd.choice(sentences)["text"] = None
    return {"version": "0.1.0", "source": "sample", "url": "self-generated", "data": sentences}


def exam_scores(seed: int = 1337) -> np.ndarray:
    """UpTrain's z-score test data: 5000 normal scores then 250 uniform outliers."""
    rs = np.random.RandomState(seed=seed)
    scores = rs.normal(0, 250, 5000)
    outliers = np.concatenate((rs.uniform(-1500, -500, 125), rs.uniform(500, 1500, 125)))
    return np.concatenate((scores, outliers))


def sentiment_stream(seed: int = 1337, n: int = 1000):
    """UpTrain's DDM test data: random sentences, labels, predictions wrong 10% then at random."""
    rs = np.random.RandomState(seed=seed)
    alphabet = np.array(list(map(ord, string.ascii_lowercase + string.digits + " ")))
    inputs = np.array(
        ["".join(map(chr, rs.choice(alphabet, size=rs.randint(10, 20)))) for _ in range(n)]
    )
    sentiments = np.array([rs.choice([0, 1]) for _ in range(n)])
    predictions = sentiments.copy()
    wrong = rs.choice(n, size=int(n * 0.1), replace=False)
    predictions[wrong] = 1 - predictions[wrong]
    tail = np.arange(n - int(n * 0.2), n)
    predictions[tail] = rs.choice([0, 1], size=len(tail))
    return inputs, predictions, sentiments


def regression_stream(seed: int = 1337, n: int = 1000):
    """UpTrain's ADWIN test data: two normal distributions and labels that move at 1500."""
    rs = np.random.RandomState(seed=seed)
    stream = np.array([rs.normal(0.2, 0.03, n), rs.normal(0.5, 0.08, n)]).flatten()
    truths = np.array([0.2] * n + [0.5] * (n // 2) + [0.6] * (n // 2))
    return stream, truths


def rides(seed: int = 11, n: int = 20_000):
    """Taxi rides like the ride-time notebook's: features, a trip time, and a model's estimate.

    The model estimates from the distance only, so its error grows when traffic slows down in
    the second half (a concept drift), and a few rides have no passenger (an integrity issue).
    """
    rs = np.random.RandomState(seed)
    dist = rs.gamma(2.0, 2.0, n)
    hour = rs.randint(0, 24, n)
    passengers = rs.choice([0, 1, 2, 3, 4, 5], size=n, p=[0.003, 0.7, 0.15, 0.07, 0.047, 0.03])
    speed = np.where(np.arange(n) < n // 2, 0.5, 0.35) * (1 + 0.1 * rs.randn(n))
    trip = 60 * dist / speed + 120 + 30 * rs.randn(n)
    estimate = 60 * dist / 0.5 + 120
    features = {"dist": dist.round(3), "pickup_hour": hour, "passenger_count": passengers}
    return features, np.abs(trip), estimate, np.arange(10_000, 10_000 + n)


def transactions(seed: int = 5, n: int = 100_000):
    """Card transactions like the fraud notebook's: a classifier right 99.5% then 90%."""
    rs = np.random.RandomState(seed)
    feats = rs.randn(n, 4).round(4)
    truth = (rs.rand(n) < 0.02).astype(int)
    wrong = rs.rand(n) < np.where(np.arange(n) < n * 0.6, 0.005, 0.1)
    preds = np.where(wrong, 1 - truth, truth)
    return feats, preds, truth


def poses(seed: int = 3, n: int = 2000):
    """Body key points like the human-orientation notebooks': 17 (x, y) points per row."""
    rs = np.random.RandomState(seed)
    base = rs.uniform(0, 100, (n, 17, 2))
    base[:, 0:5, 1] = rs.uniform(0, 20, (n, 5))  # standing: the head above ...
    base[:, 11:17, 1] = rs.uniform(80, 100, (n, 6))  # ... the legs
    kind = rs.rand(n)
    lying, crouched = kind < 0.3, kind > 0.9
    base[lying, :, 1] = 50 + 2 * rs.randn(int(lying.sum()), 17)  # flat: push-up like ...
    base[lying, 0:5, 0] = rs.uniform(0, 20, (int(lying.sum()), 5))  # ... head to one side
    base[lying, 11:17, 0] = rs.uniform(80, 100, (int(lying.sum()), 6))
    base[crouched] = rs.uniform(35, 65, (int(crouched.sum()), 17, 2))  # a short body
    kps = base.reshape(n, 34).round(2)
    prob = rs.uniform(0, 1, n).round(4)
    return kps, prob, np.arange(n)
