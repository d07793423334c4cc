"""UpTrain 0.2's z-score integrity test (uptrain/tests/test_data_integrity_zscore.py), and at 2.

The test's data and loop; a second check asks for ``threshold: 2`` on the same scores.
"""

import uptrain

from tests.compat.seeded import exam_scores

exam_scores = exam_scores()

cfg = {
    "checks": [
        {
            "type": uptrain.Monitor.DATA_INTEGRITY,
            "measurable_args": {
                "type": uptrain.MeasurableType.INPUT_FEATURE,
                "feature_name": "scores",
            },
            "integrity_type": "z_score",
            "threshold": 3,
        },
        {
            "type": uptrain.Monitor.DATA_INTEGRITY,
            "measurable_args": {
                "type": uptrain.MeasurableType.INPUT_FEATURE,
                "feature_name": "scores",
            },
            "integrity_type": "z_score",
            "threshold": 2,
        },
    ],
    "retraining_folder": "uptrain_smart_data_integrity_zscore",
    "logging_args": {
        "st_logging": True,
        "log_folder": "uptrain_data_integrity_zscore",
    },
}

framework = uptrain.Framework(cfg)
batch_size = 64
size = len(exam_scores)

for i in range(size // batch_size):
    framework.log(
        inputs={
            "scores": exam_scores[i * batch_size : (i + 1) * batch_size],
        }
    )
