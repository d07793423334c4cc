"""UpTrain 0.2's fraud-detection notebook (examples/fraud_detection/run.ipynb): DDM, ADWIN, custom.

The checks, the custom monitor and the loop are the notebook's; the transactions and the
classifier's predictions come from ``tests.compat.seeded`` (the notebook's came from Kaggle).
"""

import time

import numpy as np
import uptrain

from tests.compat.seeded import transactions

X_test, predictions, y_test = transactions()

checks = [
    {
        "type": uptrain.Monitor.CONCEPT_DRIFT,
        "algorithm": uptrain.DataDriftAlgo.DDM,
    },
    {
        "type": uptrain.Monitor.CONCEPT_DRIFT,
        "algorithm": uptrain.DataDriftAlgo.ADWIN,
        "measurable_args": {"type": uptrain.MeasurableType.MAE},
    },
]


def custom_initialize_func(self) -> None:
    self.initial_acc = None
    self.acc_arr = []
    self.count = 0
    self.thres = 0.02
    self.window_size = 200
    self.is_drift_detected = False


def custom_check_func(self, inputs, outputs, gts=None, extra_args={}) -> None:
    batch_size = len(extra_args["id"])
    self.count += batch_size
    self.acc_arr.extend(list(np.equal(gts, outputs)))

    # Calculate initial performance of the model on first 200 points
    if (self.count >= self.window_size) and (self.initial_acc is None):
        self.initial_acc = sum(self.acc_arr[0 : self.window_size]) / self.window_size

    # Calculate the most recent accuracy and log it to dashboard.
    if self.initial_acc is not None:
        for i in range(self.count - batch_size, self.count, self.window_size):
            # Calculate the most recent accuracy
            recent_acc = sum(self.acc_arr[i : i + self.window_size]) / self.window_size

            # Logging to UpTrain dashboard
            self.log_handler.add_scalars(
                "custom_metrics",
                {"y_acc": self.initial_acc},
                i,
                self.dashboard_name,
                file_name="initial_acc",
            )
            self.log_handler.add_scalars(
                "custom_metrics",
                {"y_acc": recent_acc},
                i,
                self.dashboard_name,
                file_name="recent_acc",
            )

            # Send an alert when recent model performance goes down
            if (self.initial_acc - recent_acc > self.thres) and (not self.is_drift_detected):
                alert = f"Concept drift detected with custom metric at time: {i}!!!"
                print(alert)
                self.log_handler.add_alert(
                    "Model Performance Degradation Alert 🚨", alert, self.dashboard_name
                )
                self.is_drift_detected = True


checks.append(
    {
        "type": uptrain.Monitor.CUSTOM_MONITOR,
        "initialize_func": custom_initialize_func,
        "check_func": custom_check_func,
        "need_gt": True,
    }
)

cfg = {
    "checks": checks,
    # Folder that stores the drifted data-points identified by UpTrain
    "retraining_folder": "uptrain_smart_data",
    # Enable streamlit logging to visualize model's performance
    "logging_args": {"st_logging": True},
}

framework = uptrain.Framework(cfg)

batch_size = 10000
for i in range(int(len(X_test) / batch_size)):
    # Do model prediction
    inputs = {"feats": X_test[i * batch_size : (i + 1) * batch_size]}
    preds = predictions[i * batch_size : (i + 1) * batch_size]

    # Log model inputs and outputs to monitor concept drift
    ids = framework.log(inputs=inputs, outputs=preds)

    # Attach ground truth to corresponding predictions
    # in UpTrain framework and identify concept drift
    ground_truth = y_test[i * batch_size : (i + 1) * batch_size]
    framework.log(identifiers=ids, gts=ground_truth)

    # Pausing between batches to monitor progress in the dashboard
    time.sleep(0.05)
