"""UpTrain 0.2's human-orientation edge cases and integrity (deepdive_examples, uptrain/tests).

``pushup_signal`` and ``body_length_signal`` are UpTrain's test helpers; the edge cases combine
a model signal (``is_model_signal=True``) with the push-up signal, and a CUSTOM measurable feeds the ``greater_than`` integrity check, as in
``uptrain/tests/test_data_integrity.py``. The key points come from ``tests.compat.seeded``.
(``Signal(..., extra_args=...)`` is left out: UpTrain 0.2 merges a signal's ``extra_args``
into the logged row and then fails writing it, ``TypeError: 'int' object is not iterable``.)
"""

import numpy as np
import uptrain

from tests.compat.seeded import poses

kps_all, probabilities, row_ids = poses()


def body_length_from_kps(kps):
    head_mean_point = np.sum(kps[0:5, 0:2], axis=0) / 5
    legs_mean_point = np.sum(kps[11:17, 0:2], axis=0) / 6
    body_length_horizontal = max(0.01, abs(head_mean_point[0] - legs_mean_point[0]))
    body_length_vertical = max(0.01, abs(head_mean_point[1] - legs_mean_point[1]))
    return max(body_length_horizontal, body_length_vertical)


def body_length_signal(inputs, outputs, gts=None, extra_args={}):
    body_lengths = []
    for input in inputs["kps"]:
        kps = np.reshape(np.array(input), (17, 2))
        body_lengths.append(body_length_from_kps(kps))
    return body_lengths


def pushup_signal(inputs, outputs, gts=None, extra_args={}):
    is_pushups = []
    for input in inputs["kps"]:
        kps = np.reshape(np.array(input), (17, 2))
        head_mean_point = np.sum(kps[0:5, 0:2], axis=0) / 5
        legs_mean_point = np.sum(kps[11:17, 0:2], axis=0) / 6
        body_slope = abs(
            (legs_mean_point[1] - head_mean_point[1])
            / max(0.1, abs(legs_mean_point[0] - head_mean_point[0]))
        )
        is_pushups.append(bool(body_slope < 1))
    return is_pushups


cfg = {
    "checks": [
        {
            "type": uptrain.Monitor.EDGE_CASE,
            "signal_formulae": (
                uptrain.Signal("Pushup", pushup_signal)
                & (
                    uptrain.Signal(
                        uptrain.ModelSignal.BINARY_ENTROPY_CONFIDENCE, is_model_signal=True
                    )
                    < 0.9
                )
            ),
        },
        {
            "type": uptrain.Monitor.DATA_INTEGRITY,
            "measurable_args": {
                "type": uptrain.MeasurableType.INPUT_FEATURE,
                "feature_name": "kps",
            },
            "integrity_type": "non_null",
        },
        {
            "type": uptrain.Monitor.DATA_INTEGRITY,
            "measurable_args": {
                "type": uptrain.MeasurableType.CUSTOM,
                "signal_formulae": uptrain.Signal("body_length", body_length_signal),
            },
            "integrity_type": "greater_than",
            "threshold": 50,
        },
    ],
    "retraining_folder": "uptrain_smart_data_pushups",
}

framework = uptrain.Framework(cfg)

inference_batch_size = 16
for i in range(len(kps_all) // inference_batch_size):
    part = slice(i * inference_batch_size, (i + 1) * inference_batch_size)
    inputs = {"kps": kps_all[part], "id": row_ids[part]}
    preds = probabilities[part]
    idens = framework.log(inputs=inputs, outputs=preds)
