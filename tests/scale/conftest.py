"""Fixtures of the scale tests: one local Ray for the whole run and a moto S3 server.

Both bind 127.0.0.1 only. Ray starts once (``num_cpus=2``: the machine's cores) and is shared
by every test of this package that asks for it, then stops when the package is done (so the rest
of the suite runs without an idle Ray or the S3 environment); moto runs as its own server process, reached like real S3
through pyarrow's and delta-rs's S3 clients with explicit dummy credentials.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def s3():
    """A moto S3 server on 127.0.0.1; the AWS environment points every client at it."""
    pytest.importorskip("moto")
    port = _free_port()
    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ALLOW_HTTP": "true",
    }  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield {"endpoint": env["AWS_ENDPOINT_URL"], "env": env}
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="package")
def bucket(s3):
    """A fresh bucket on the moto server; its name."""
    import pyarrow.fs as pafs

    fs = pafs.S3FileSystem(endpoint_override=s3["endpoint"], scheme="http",
                           access_key="testing", secret_key="testing", region="us-east-1",
                           allow_bucket_creation=True)  # fmt: skip
    fs.create_dir("curate-test")
    return "curate-test"


@pytest.fixture(scope="package")
def ray_local(s3):
    """One Ray for the whole test run, on loopback, started after moto so workers inherit
    the S3 environment."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1",
             runtime_env={"env_vars": {"PYTHONPATH": path, **s3["env"]}})  # fmt: skip
    yield ray
    ray.shutdown()


@pytest.fixture()
def s3_uri(bucket, s3, request):
    """A fresh ``s3://`` prefix in the test bucket, for one test."""
    return f"s3://{bucket}/{request.node.name[:40]}-{time.monotonic_ns()}"
