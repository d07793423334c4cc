"""UpTrain 0.2's masked-LM notebook (examples/masked_language_modeling/run.ipynb), its UpTrain cells.

The signals, config and loop are the notebook's as printed; the data is its
``create_sample_dataset`` with a seed. The notebook's VADER came from nltk, whose lexicon is
downloaded at run time; the same analyser ships in the ``vaderSentiment`` package.
"""

import uptrain
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from tests.compat.seeded import POSITIVE_SENTIMENT_ADJECTIVES, PRODUCTS, create_sample_dataset

SYNTHESIZED_DATASET_SIZE = 25000
uptrain_save_fold_name = "uptrain_smart_data_bert"

dataset = create_sample_dataset(SYNTHESIZED_DATASET_SIZE)

vader_sia = SentimentIntensityAnalyzer()


def nike_text_present_func(inputs, outputs, gts=None, extra_args={}):
    is_present = []
    for text in inputs["text"]:
        present = False
        if text is not None:
            text = text.lower()
            present = bool("nike" in text)
        is_present.append(present)
    return is_present


def nike_product_keyword_func(inputs, outputs, gts=None, extra_args={}):
    is_present = []
    for text in inputs["text"]:
        present = False
        if text is not None:
            text = text.lower()
            present = any(word in text for word in PRODUCTS)
        is_present.append(present)
    return is_present


def is_positive_sentiment_func(inputs, outputs, gts=None, extra_args={}):
    is_positive = []
    for text in inputs["text"]:
        positive = False
        if text is not None:
            text = text.lower()
            if vader_sia.polarity_scores(text)["compound"] >= 0:
                positive = any(word in text for word in POSITIVE_SENTIMENT_ADJECTIVES)
        is_positive.append(positive)
    return is_positive


cfg = {
    "checks": [
        {
            "type": uptrain.Monitor.EDGE_CASE,
            "signal_formulae": uptrain.Signal("Is 'Nike' text present?", nike_text_present_func)
            & uptrain.Signal("Is it a Nike product?", nike_product_keyword_func)
            & uptrain.Signal("Is positive sentiment?", is_positive_sentiment_func),
        },
        {
            "type": uptrain.Monitor.DATA_INTEGRITY,
            "measurable_args": {
                "type": uptrain.MeasurableType.INPUT_FEATURE,
                "feature_name": "text",
            },
            "integrity_type": "non_null",
        },
    ],
    # Define where to save the retraining dataset
    "retraining_folder": uptrain_save_fold_name,
    # Define when to retrain, define a large number because we
    # are not retraining yet
    "retrain_after": 10000000000,
    "logging_args": {"st_logging": True},
}

dashboard_name = "llm_bert_example"
framework = uptrain.Framework(cfg)

for index, sample in enumerate(dataset["data"]):
    inputs = {"text": [sample["text"]]}
    framework.log(inputs=inputs, outputs=None)

retraining_csv = uptrain_save_fold_name + "/1/smart_data.csv"
