"""UpTrain 0.2's DDM test (uptrain/tests/test_monitors_concept_drift_ddm.py): config and loop."""

import uptrain

from tests.compat.seeded import sentiment_stream

n = 1000
inputs, predictions, sentiments = sentiment_stream(n=n)

cfg = {
    "checks": [
        {
            "type": uptrain.Monitor.CONCEPT_DRIFT,
            "algorithm": uptrain.DataDriftAlgo.DDM,
            "measurable_args": {"type": uptrain.MeasurableType.ACCURACY},
            "warm_start": 200,
            "warn_threshold": 2.0,
            "alarm_threshold": 3.0,
        }
    ],
    "retraining_folder": "uptraining_smart_data_concept_drift_ddm",
    "logging_args": {"st_logging": True},
}

framework = uptrain.Framework(cfg)
batch_size = 64

for i in range(n // batch_size):
    input = {"data": inputs[i * batch_size : (i + 1) * batch_size]}
    output = predictions[i * batch_size : (i + 1) * batch_size]
    gts = sentiments[i * batch_size : (i + 1) * batch_size]
    ids = framework.log(inputs=input, outputs=output)
    framework.log(identifiers=ids, gts=gts)
