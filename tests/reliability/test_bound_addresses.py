"""Every server Pointy starts listens on 127.0.0.1 only: read from the kernel's socket tables
(/proc/net/tcp, tcp6), for this process and the worker processes it started."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from pointy_engine.telemetry.publishers.prometheus import PrometheusPublisher

LISTEN = "0A"


def _address(hex_address: str) -> tuple[str, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    # The kernel prints each 32-bit word in host (little-endian) order.
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(ordered)), int(port, 16)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    folder = Path(f"/proc/{pid}/fd")
    for fd in os.listdir(folder):
        try:
            target = os.readlink(folder / fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def children(pid: int) -> set[int]:
    """Every descendant process of `pid`."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            direct = {int(child) for child in (task / "children").read_text().split()}
        except OSError:
            continue
        for child in direct - found:
            found |= {child} | children(child)
    return found


def listening(pids: set[int]) -> set[tuple[str, int]]:
    """(host, port) of every TCP socket of `pids` in the LISTEN state."""
    inodes = set().union(*(_socket_inodes(pid) for pid in pids))
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                found.add(_address(fields[1]))
    return found


def test_the_reader_sees_a_socket_open_to_every_address():
    with socket.socket() as wide:
        wide.bind(("0.0.0.0", 0))
        wide.listen()
        assert ("0.0.0.0", wide.getsockname()[1]) in listening({os.getpid()})
    with socket.socket(socket.AF_INET6) as wide6:
        wide6.bind(("::", 0))
        wide6.listen()
        assert ("::", wide6.getsockname()[1]) in listening({os.getpid()})


def test_the_metrics_endpoint_listens_on_loopback_only():
    before = listening({os.getpid()})
    publisher = PrometheusPublisher(port=0)
    try:
        assert listening({os.getpid()}) - before == {("127.0.0.1", publisher.port)}
    finally:
        publisher.close()


@pytest.mark.slow
def test_the_local_dask_cluster_listens_on_loopback_only():
    pytest.importorskip("distributed")
    from pointy_engine.dask_executor import LocalDaskCluster

    # A cluster of its own: closing it leaves the process's shared one (other tests') alone.
    # One worker: its scheduler, worker and nanny are the three kinds of listener there are.
    cluster = LocalDaskCluster(n_workers=1)
    before = children(os.getpid())
    try:
        client = cluster.client()
        assert len(client.scheduler_info()["workers"]) == 1
        started = children(os.getpid()) - before  # its scheduler, workers and their nannies
        addresses = listening(started | {os.getpid()})
        assert len(addresses) >= 2  # the scheduler and the worker listen
        assert {host for host, _ in addresses} == {"127.0.0.1"}, addresses
    finally:
        cluster.close()
