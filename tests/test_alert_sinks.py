"""Alert sinks (webhook, callback, Slack) against a real HTTP server on 127.0.0.1.

The server can be scripted to answer 500, to hang past the client's timeout, to answer 429 with
a ``Retry-After``, and to recover. Windows and back-offs are a few hundredths of a second, so
the file runs in seconds; no assertion is about speed, only about what arrived and how often.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from curate.errors import ConfigError
from curate.framework import Framework
from curate.sinks import CallbackSink, DeliveryError, SlackSink, WebhookSink
from curate.store import Store
from curate.tables import alert_row, alerts_table

FAST = {"window": 0.05, "backoff": 0.05, "max_backoff": 0.2, "timeout": 0.3}


def write_alerts(store: Store, messages: list[str]) -> None:
    rows = [alert_row(monitor="m", check="c", column="x", metric="v", value=float(i),
                      threshold=0.5, message=m) for i, m in enumerate(messages)]  # fmt: skip
    store.write("alerts", alerts_table(rows))


def wait_for(condition, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_window_of_alerts_is_one_json_post(tmp_path, hook):
    h = hook()
    store = Store(tmp_path)
    write_alerts(store, ["old"])  # in the store before the sink: not sent
    sink = WebhookSink(store, h.url, headers={"Authorization": "Bearer t"}, start=False)
    write_alerts(store, ["a", "b"])
    write_alerts(store, ["c"])
    assert sink.poll() == 3 and sink.poll() == 0
    assert len(h.posts) == 1 and h.posts[0]["count"] == 3
    alerts = h.posts[0]["alerts"]
    assert [a["message"] for a in alerts] == ["a", "b", "c"]
    assert set(alerts[0]) == {"ts", "monitor", "check", "column", "metric", "value",
                              "threshold", "message"}  # fmt: skip
    assert alerts[1]["value"] == 1.0 and alerts[1]["threshold"] == 0.5
    assert alerts[0]["ts"].endswith("+00:00")  # ISO 8601, UTC
    sent = h.headers[0]
    assert sent["Authorization"] == "Bearer t" and sent["Content-Type"] == "application/json"
    assert len(sent["Idempotency-Key"]) == 32
    assert (sink.batches_sent, sink.sent, sink.batches_dropped) == (1, 3, 0)


def test_fails_times_out_then_recovers_and_delivers_once(tmp_path, hook):
    h = hook(script=["500", "hang", "429"])
    store = Store(tmp_path)
    sink = WebhookSink(store, h.url, retries=5, **FAST)
    write_alerts(store, ["drift on x", "nulls in x"])
    assert wait_for(lambda: sink.batches_sent == 1)
    time.sleep(5 * FAST["window"])  # more windows pass: nothing is sent twice
    sink.close()
    assert [a for _, a in h.attempts] == ["500", "hang", "429", "ok"]
    assert len(h.posts) == 1 and [a["message"] for a in h.posts[0]["alerts"]] == [
        "drift on x",
        "nulls in x",
    ]
    assert h.attempts[3][0] - h.attempts[2][0] >= 0.2  # Retry-After 0.3, capped at 0.2
    assert (sink.batches_sent, sink.sent, sink.batches_dropped, sink.dropped) == (1, 2, 0, 0)


def test_alerts_written_while_retrying_come_in_the_next_batch(tmp_path):
    store = Store(tmp_path)
    batches: list[list[str]] = []

    def fn(alerts):
        if not batches and not getattr(fn, "failed", False):
            fn.failed = True
            write_alerts(store, ["second"])  # lands while the first batch is being retried
            raise RuntimeError("down")
        batches.append([a["message"] for a in alerts])

    sink = CallbackSink(store, fn, retries=2, start=False, **FAST)
    write_alerts(store, ["first"])
    assert sink.poll() == 1 and sink.poll() == 1
    assert batches == [["first"], ["second"]]


def test_a_server_that_never_recovers_drops_the_batch_after_the_retries(tmp_path, hook):
    h = hook(then="500")
    store = Store(tmp_path)
    sink = WebhookSink(store, h.url, retries=2, start=False, **FAST)
    write_alerts(store, ["a", "b", "c"])
    assert sink.poll() == 0
    assert len(h.attempts) == 3 and not h.posts  # the first try and 2 retries
    assert (sink.batches_dropped, sink.dropped, sink.batches_sent) == (1, 3, 0)
    h.recover()
    write_alerts(store, ["d"])
    assert sink.poll() == 1  # later alerts still go; the dropped batch is not resent
    assert [a["message"] for a in h.posts[0]["alerts"]] == ["d"]


def test_a_4xx_is_not_retried_and_an_unreachable_host_is(tmp_path, hook):
    store = Store(tmp_path)
    refused = hook(then="404")
    sink = WebhookSink(store, refused.url, retries=3, start=False, **FAST)
    write_alerts(store, ["a"])
    assert sink.poll() == 0 and len(refused.attempts) == 1 and sink.batches_dropped == 1
    gone = hook()
    url = gone.url
    gone.close()  # nothing listens there any more
    sink = WebhookSink(store, url, retries=2, start=False, **FAST)
    write_alerts(store, ["b"])
    assert sink.poll() == 0 and sink.batches_dropped == 1


def test_slack_is_a_webhook_with_its_own_message(tmp_path, hook):
    h = hook(script=["503"])
    store = Store(tmp_path)
    sink = SlackSink(store, h.url, max_lines=1, start=False, **FAST)
    write_alerts(store, ["drift", "nulls"])
    assert sink.poll() == 2 and len(h.attempts) == 2
    assert h.posts[0]["text"].splitlines()[1:] == ["• drift", "… and 1 more (see the dashboard)"]


def test_a_callback_that_raises_then_succeeds_delivers_once(tmp_path):
    calls: list[list[dict]] = []

    def fn(alerts):
        calls.append(alerts)
        if len(calls) == 1:
            raise RuntimeError("the pager is down")

    store = Store(tmp_path)
    sink = CallbackSink(store, fn, retries=3, **FAST)
    write_alerts(store, ["a", "b"])
    assert wait_for(lambda: sink.batches_sent == 1)
    time.sleep(5 * FAST["window"])
    sink.close()
    assert len(calls) == 2 and calls[0] == calls[1]
    assert [a["message"] for a in calls[1]] == ["a", "b"]
    assert (sink.batches_sent, sink.sent, sink.batches_dropped) == (1, 2, 0)


def test_a_callback_that_always_fails_is_dropped_and_can_give_up_at_once(tmp_path):
    store = Store(tmp_path)
    tries = []
    sink = CallbackSink(store, lambda a: tries.append(1) or 1 / 0, retries=2, start=False, **FAST)
    write_alerts(store, ["a"])
    assert sink.poll() == 0 and len(tries) == 3 and sink.batches_dropped == 1

    def refuse(alerts):
        tries.append(1)
        raise DeliveryError("not for me", permanent=True)

    sink = CallbackSink(store, refuse, retries=5, start=False, **FAST)
    write_alerts(store, ["b"])
    assert sink.poll() == 0 and len(tries) == 4 and sink.dropped == 1


def test_close_gives_up_retrying_at_its_deadline(tmp_path, hook):
    h = hook(then="500")
    store = Store(tmp_path)
    sink = WebhookSink(store, h.url, window=60, retries=100, backoff=0.05, max_backoff=0.05,
                       timeout=0.3)  # fmt: skip
    write_alerts(store, ["a"])
    sink.close(timeout=0.3)  # the watcher is idle: close() delivers, and runs out of time
    assert sink.batches_dropped == 1 and 1 <= len(h.attempts) < 100
    sink.close()  # twice is fine


def framework_config(tmp_path, *sinks) -> dict:
    check = {
        "type": "data_integrity",
        "integrity_type": "non_null",
        "alert_ratio": 0.1,
        "window": 10,
        "measurable_args": {"type": "input_feature", "feature_name": "x"},
    }
    return {"checks": [check], "retraining_folder": tmp_path / "s", "flush_interval": 0.05,
            "alert_sinks": list(sinks)}  # fmt: skip


def test_log_never_blocks_or_raises_while_the_sink_is_down(tmp_path, hook):
    h = hook(then="hang", hang=0.5)  # down: every request hangs past the timeout
    got: list[dict] = []
    webhook = {"type": "webhook", "url": h.url, "retries": 1000, **FAST}
    callback = {"type": "callback", "fn": got.extend, **FAST}
    fw = Framework(framework_config(tmp_path, webhook, callback))
    durations = []
    for i in range(40):
        start = time.monotonic()
        ids = fw.log(inputs={"x": [None] * 5 + [1.0] * 5})  # every call: one alerting window
        durations.append(time.monotonic() - start)
        assert ids == range(10 * i, 10 * i + 10)
        if i == 20:
            fw.flush()
    fw.flush()
    assert wait_for(lambda: len(h.attempts) >= 2)  # the sink kept trying meanwhile
    h.recover()
    fw.close()  # delivers what is still pending
    webhook_sink, callback_sink = fw.alert_sinks
    stored = fw.store.read("alerts").column("message").to_pylist()
    posted = [a["message"] for p in h.posts for a in p["alerts"]]
    assert len(stored) == 40 and Counter(posted) == Counter(stored)  # each exactly once
    assert Counter(a["message"] for a in got) == Counter(stored)
    assert webhook_sink.sent == 40 and webhook_sink.dropped == 0 and callback_sink.sent == 40
    assert len(durations) == 40  # timed loosely: speed is not asserted, only correctness


def test_the_config_names_a_bad_sink(tmp_path):
    bad = [
        ({"type": "webhook"}, r"alert_sinks\[0\] \(webhook\): url: Field required"),
        ({"type": "webhook", "url": "ftp://x"}, r"alert_sinks\[0\] \(webhook\): url: must be"),
        ({"type": "callback", "fn": 3}, r"alert_sinks\[0\] \(callback\): fn: Input should be"),
        ({"type": "slack", "webhook_url": "http://x", "windw": 1}, r"unknown key 'windw'"),
        ({"type": "pager"}, r"alert_sinks\[0\]: unknown sink type 'pager'; valid types: webhook"),
        ({"url": "http://x"}, r"alert_sinks\[0\]: missing key 'type'"),
        ({"type": "webhook", "url": "http://x", "window": 0}, r"window: Input should be greater"),
    ]
    for entry, message in bad:
        with pytest.raises(ConfigError, match=message):
            Framework(framework_config(tmp_path, entry))
    with pytest.raises(ConfigError, match="alert_sinks must be a list of sink dicts"):
        Framework({"retraining_folder": tmp_path, "alert_sinks": {"type": "webhook"}})


def test_the_framework_closes_its_sinks_and_the_compat_framework_takes_them_too(tmp_path, hook):
    import curate

    h = hook()
    slack = {"type": "slack", "webhook_url": h.url, "window": 60}  # only close() delivers
    with curate.Framework(framework_config(tmp_path, slack)) as fw:
        fw.log(inputs={"x": [None] * 10})
    assert len(h.posts) == 1 and h.posts[0]["text"].startswith("curate: 1 alert in")
    assert fw.alert_sinks[0].batches_sent == 1


def test_an_uptrain_config_takes_alert_sinks_too(tmp_path):
    import curate as uptrain

    got: list[dict] = []
    check = {"type": uptrain.Monitor.DATA_INTEGRITY, "integrity_type": "z_score",
             "measurable_args": {"type": uptrain.MeasurableType.INPUT_FEATURE,
                                 "feature_name": "x"}}  # fmt: skip
    cfg = {"checks": [check], "retraining_folder": str(tmp_path / "s"),
           "logging_args": {"st_logging": True},
           "alert_sinks": [{"type": "callback", "fn": got.extend, "window": 60}]}  # fmt: skip
    with uptrain.Framework(cfg) as fw:
        assert fw.uptrain
        fw.log(inputs={"x": [0.0] * 40 + [100.0]})  # 1 outlier in 41 rows: 2.4% > 2%
    assert len(got) == 1 and got[0]["message"].startswith("Z-score outliers detected for x")
    assert got[0]["monitor"] == "uptrain_data_integrity" and got[0]["value"] > 2
