"""UpTrain 0.2's ADWIN test (uptrain/tests/test_monitors_concept_drift_adwin.py): MAE and MAPE."""

import uptrain

from tests.compat.seeded import regression_stream

stream, ground_truths = regression_stream()

cfg = {
    "checks": [
        {
            "type": uptrain.Monitor.CONCEPT_DRIFT,
            "algorithm": uptrain.DataDriftAlgo.ADWIN,
            "measurable_args": {"type": uptrain.MeasurableType.MAE},
            # Configurable parameters that the ADWIN algorithm supports
            "delta": 0.002,
            "clock": 32,
            "max_buckets": 5,
            "min_window_length": 5,
            "grace_period": 5,
        },
        {
            "type": uptrain.Monitor.CONCEPT_DRIFT,
            "algorithm": uptrain.DataDriftAlgo.ADWIN,
            "measurable_args": {
                "type": uptrain.MeasurableType.MAPE,
                "feature_name": "data",
            },
            "delta": 0.1,
        },
    ],
    "retraining_folder": "uptraining_smart_data_concept_drift_adwin",
    "logging_args": {"st_logging": True},
}

framework = uptrain.Framework(cfg)
batch_size = 64
size = len(stream)

for i in range(size // batch_size):
    inputs = {"data": stream[i * batch_size : (i + 1) * batch_size]}
    outputs = stream[i * batch_size : (i + 1) * batch_size]
    gts = ground_truths[i * batch_size : (i + 1) * batch_size]
    ids = framework.log(inputs=inputs, outputs=outputs)
    framework.log(identifiers=ids, gts=gts)
