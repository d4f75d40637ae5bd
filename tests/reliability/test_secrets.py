"""Secrets (publisher keys and passwords, Dask TLS keys) never show in reprs, logs, warnings,
errors or the run history, even when the service behind them refuses or is not there."""

from __future__ import annotations

import logging
import socket
import warnings

import pytest
from engine_support import run_flow
from telemetry_support import fresh_store

from pointy_engine.errors import PointyError
from pointy_engine.scheduling import RunHistory
from pointy_engine.telemetry.publishers.elasticsearch import ElasticsearchPublisher
from pointy_engine.telemetry.publishers.grafana import GrafanaCloudPublisher

SECRET = "s3cr3t-Zq8Wx"


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def publishers() -> list:
    port = closed_port()
    return [
        GrafanaCloudPublisher(
            api_key=SECRET, org_slug="acme", url=f"http://127.0.0.1:{port}/push", timeout=2
        ),
        ElasticsearchPublisher(
            [f"http://elastic:{SECRET}@127.0.0.1:{port}"],
            api_key=SECRET,
            request_timeout=2,
            max_retries=0,
        ),
    ]


def test_publisher_secrets_stay_out_of_reprs_logs_warnings_errors_and_history(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level
    made = publishers()
    for publisher in made:
        assert SECRET not in repr(publisher)
        assert SECRET not in str(publisher)
    store, observers = fresh_store()
    history = RunHistory(tmp_path / "history.sqlite3")
    observers.add(history.observe)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        store.start(publishers=made)
        run = run_flow("A -> B", {"A": lambda: 1, "B": lambda: 2}, observers=observers)
        assert store.flush(30)
        failures = store.publisher_failures
        store.stop()
        history.close()
    assert failures  # both services were unreachable: the failures were real and reported
    texts = [
        caplog.text,
        *(str(warning.message) for warning in seen),
        repr(failures),
        repr(run),
        repr(store),
        (tmp_path / "history.sqlite3").read_bytes().decode("latin-1"),
    ]
    assert [text for text in texts if SECRET in text] == []


def test_the_check_would_see_a_leak(caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("pointy_engine.telemetry").warning("key=%s", SECRET)
    assert SECRET in caplog.text


def test_dask_tls_key_material_stays_out_of_the_connect_error(tmp_path, caplog):
    pytest.importorskip("distributed")
    from distributed.security import Security

    from pointy_engine.dask_executor import DaskExecutor

    caplog.set_level(logging.DEBUG)
    key = tmp_path / "client.key"
    key.write_text(f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n")
    security = Security(tls_client_key=str(key), tls_client_cert=str(key), tls_ca_file=str(key))
    with pytest.raises((PointyError, OSError, ValueError)) as raised:
        DaskExecutor.connect(f"tls://127.0.0.1:{closed_port()}", security=security)
    assert SECRET not in str(raised.value)
    assert SECRET not in repr(raised.value)
    assert SECRET not in caplog.text
    assert SECRET not in repr(security)
