"""UpTrain 0.2's ride-time notebook (examples/ride_time_estimation/run.ipynb): its checks and loop.

The monitors, config and production loop are the notebook's; the rides and the model come from
``tests.compat.seeded`` (the notebook trained LightGBM on a Kaggle download). The SHAP visual
is left out here: it needs the ``shap`` extra and draws on the dashboard only.
"""

import time

import pandas as pd
import uptrain

from tests.compat.seeded import rides

features, y, estimate, ride_ids = rides()
X_test = pd.DataFrame(features)
y_test = pd.Series(y)
test_ids = list(ride_ids)


class Model:
    def predict(self, frame):
        return estimate[frame.index.to_numpy()]


model = Model()

mae_monitor = {
    "type": uptrain.Monitor.ACCURACY,
    "measurable_args": {
        "type": uptrain.MeasurableType.MAE,
    },
}
mape_monitor = {
    "type": uptrain.Monitor.ACCURACY,
    "measurable_args": {
        "type": uptrain.MeasurableType.MAPE,
    },
}
concept_drift_monitor_mae = {
    "type": uptrain.Monitor.CONCEPT_DRIFT,
    "algorithm": uptrain.DataDriftAlgo.ADWIN,
    "measurable_args": {"type": uptrain.MeasurableType.MAE},
    "delta": 0.01,
}
concept_drift_monitor_mape = {
    "type": uptrain.Monitor.CONCEPT_DRIFT,
    "algorithm": uptrain.DataDriftAlgo.ADWIN,
    "measurable_args": {"type": uptrain.MeasurableType.MAPE},
    "delta": 0.1,
}
data_integrity_monitor = {
    "type": uptrain.Monitor.DATA_INTEGRITY,
    "measurable_args": {
        "type": uptrain.MeasurableType.INPUT_FEATURE,
        "feature_name": "passenger_count",
    },
    "integrity_type": "greater_than",
    "threshold": 1,
}

cfg = {
    "checks": [
        mae_monitor,
        mape_monitor,
        concept_drift_monitor_mae,
        concept_drift_monitor_mape,
        data_integrity_monitor,
    ],
    "logging_args": {"st_logging": True},
}
framework = uptrain.Framework(cfg_dict=cfg)

batch_size = 2000
for idx in range(int(len(X_test) / batch_size)):
    this_elems = X_test.iloc[idx * batch_size : (idx + 1) * batch_size, :]
    this_preds = abs(model.predict(this_elems))

    # Add ids to corresponding data points to preserve them in dashboard
    this_elems = this_elems.assign(id=list(test_ids[idx * batch_size : (idx + 1) * batch_size]))

    # Log input and outputs to the UpTrain framework
    ids = framework.log(inputs=this_elems, outputs=this_preds)

    # Attach ground truth
    ground_truth = list(y_test[idx * batch_size : (idx + 1) * batch_size])
    framework.log(identifiers=ids, gts=ground_truth)

    time.sleep(0.01)
