"""Training worker for a Delta store: ``python -m trainer.delta_worker --store URI``.

Started by a replica's :class:`curate.delta_retrainer.DeltaRetrainer` when ``retrain_after``
edge cases are pending. It takes the store's training lease, checks the threshold again under
it, trains one run on a local copy and uploads it (:mod:`trainer.delta_training`). Exit status:
0 trained, or nothing to do (another replica holds the lease, or has just consumed the edge
cases); 1 the run failed; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from trainer.delta_training import delta_training
from trainer.launch import TrainingInProgressError, start_run

log = logging.getLogger("curate")


def main(argv: Sequence[str] | None = None) -> int:
    """Train once on the Delta store if it still needs it; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m trainer.delta_worker")
    parser.add_argument("--store", required=True, help="the Delta store's URI")
    parser.add_argument("--retrain-after", type=int, default=0, help="train only at this many")
    parser.add_argument("--args", default="{}", help="the training arguments, as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        with delta_training(args.store) as store:
            if store.pending_rows() < args.retrain_after:
                log.info("curate: %s no longer needs training", args.store)
                return 0
            run = start_run(store, json.loads(args.args), trigger="auto", wait=True)
    except TrainingInProgressError as exc:
        log.info("curate: %s", exc)
        return 0
    log.info("curate: run %s %s", run.run_id, run.status)
    return 0 if run.has_model else 1


if __name__ == "__main__":
    sys.exit(main())
