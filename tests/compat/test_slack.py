"""Slack alerts: one POST per window, retried with back-off, against a server on 127.0.0.1."""

from __future__ import annotations

import curate as uptrain
from curate.slack import SlackSink
from curate.store import Store
from curate.tables import alert_row, alerts_table


def write_alerts(store: Store, messages: list[str]) -> None:
    rows = [alert_row(monitor="m", check="c", column="x", metric="v", value=1.0, threshold=None,
                      message=m) for m in messages]  # fmt: skip
    store.write("alerts", alerts_table(rows))


def test_one_post_per_window_for_many_alerts(tmp_path, hook):
    h = hook()
    store = Store(tmp_path)
    write_alerts(store, ["old alert"])  # there before the sink: not sent
    sink = SlackSink(store, h.url, start=False, max_lines=5)
    write_alerts(store, [f"alert {i}" for i in range(30)])
    write_alerts(store, ["last"])
    assert sink.poll() == 31 and sink.poll() == 0
    assert len(h.posts) == 1
    lines = h.posts[0]["text"].splitlines()
    assert lines[0].startswith("curate: 31 alerts") and lines[1] == "• alert 0"
    assert (
        lines[-1] == "… and 26 more (see the dashboard)" and "old alert" not in h.posts[0]["text"]
    )


def test_failures_are_retried_with_back_off(tmp_path, hook):
    h = hook(script=["503"] * 3)
    store = Store(tmp_path)
    sink = SlackSink(store, h.url, start=False, backoff=0.05, retries=5)
    write_alerts(store, ["drift"])
    assert sink.poll() == 1 and len(h.posts) == 1 and len(h.times) == 4
    gaps = [b - a for a, b in zip(h.times, h.times[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2  # 0.05 * 2**attempt


def test_429_waits_for_retry_after_and_a_4xx_gives_up(tmp_path, hook):
    h = hook(script=["429"])  # Retry-After: 0.3
    store = Store(tmp_path)
    sink = SlackSink(store, h.url, start=False, backoff=0.01)
    write_alerts(store, ["a"])
    assert sink.poll() == 1 and h.times[1] - h.times[0] >= 0.3
    bad = hook(script=["404"] * 10)
    sink = SlackSink(store, bad.url, start=False, backoff=0.01)
    write_alerts(store, ["b"])
    assert sink.poll() == 0 and len(bad.times) == 1 and sink.dropped == 1


def test_an_unreachable_hook_is_given_up_after_the_retries(tmp_path, hook):
    h = hook()
    url = h.url
    h.close()  # nothing listens there any more
    store = Store(tmp_path)
    sink = SlackSink(store, url, start=False, backoff=0.01, retries=2, timeout=1)
    write_alerts(store, ["a"])
    assert sink.poll() == 0 and sink.dropped == 1


def test_the_framework_sends_its_alerts_off_the_log_path(tmp_path, hook):
    h = hook()
    check = {"type": uptrain.Monitor.DATA_INTEGRITY, "integrity_type": "z_score",
             "measurable_args": {"type": uptrain.MeasurableType.INPUT_FEATURE,
                                 "feature_name": "x"}}  # fmt: skip
    cfg = {"checks": [check], "retraining_folder": str(tmp_path / "s"),
           "logging_args": {"slack_webhook_url": h.url}}  # fmt: skip
    with uptrain.Framework(cfg) as fw:
        for _ in range(5):
            fw.log(inputs={"x": [0.0] * 40 + [100.0]})  # 1 outlier in 41 rows: 2.4% > 2%
        fw.flush()
    assert len(h.posts) == 1 and h.posts[0]["text"].startswith("curate: 5 alerts")
    assert "Z-score outliers detected for x" in h.posts[0]["text"]


def test_a_native_config_may_name_a_webhook_too(tmp_path, hook):
    h = hook()
    check = {"type": "data_integrity", "integrity_type": "non_null", "alert_ratio": 0.1,
             "measurable_args": {"type": "input_feature", "feature_name": "x"}}  # fmt: skip
    cfg = {"checks": [check], "retraining_folder": tmp_path / "s", "slack_webhook_url": h.url}
    with uptrain.Framework(cfg) as fw:
        assert not fw.uptrain
        fw.log(inputs={"x": [None, None, 1.0]})
        fw.flush()
    assert len(h.posts) == 1 and "violate the check" in h.posts[0]["text"]
