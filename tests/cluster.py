"""A real local Redis Cluster from Debian's redis-server: N masters on free ports, slots spread by
`redis-cli --cluster create`. Tests start private ones; `.ci/run` and the benchmarks start one with

    python -m tests.cluster start --dir /tmp/suppressor-cluster --masters 3   # prints its REDIS_URL
    python -m tests.cluster stop --dir /tmp/suppressor-cluster
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis


@dataclass
class LocalCluster:
    """The cluster's directory and node ports; ``url`` is what REDIS_URL takes."""

    root: Path
    ports: list[int]

    @property
    def url(self) -> str:
        """The seed URL a suppressor process is given (any node will do)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def node(self, port: int) -> redis.Redis:
        """A plain client on one node (for CLUSTER commands)."""
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)

    def node_id(self, port: int) -> str:
        """The cluster id of the node on ``port``."""
        return self.node(port).execute_command("CLUSTER MYID").decode()

    def slot_owner(self, slot: int) -> int:
        """The port of the master that serves ``slot``."""
        for start, end, master, *_ in self.node(self.ports[0]).execute_command("CLUSTER SLOTS"):
            if start <= slot <= end:
                return int(master[1])
        raise LookupError(slot)

    def stop(self) -> None:
        """Shut every node down and remove the directory."""
        stop(self.root, self.ports)

    def kill(self) -> None:
        """Stop every node at once (SIGKILL), keeping each one's nodes.conf for ``restart``."""
        for port in self.ports:
            pidfile = self.root / str(port) / "redis.pid"
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
            pidfile.unlink()

    def restart(self) -> None:
        """Bring killed nodes back with their slots (and their data, when started with ``persist``)."""
        _launch(self.root, self.ports)
        _wait_ok(self.ports)

    def move_slot(self, slot: int, to_port: int, pause: float = 0.0) -> int:
        """Migrate ``slot`` to the master on ``to_port`` as `redis-cli --cluster reshard` does (IMPORTING,
        MIGRATING, MIGRATE key by key, then SETSLOT NODE everywhere), ``pause`` seconds between keys so
        that traffic meets the slot half moved; the number of keys moved."""
        src_port = self.slot_owner(slot)
        if src_port == to_port:
            return 0
        src, dst = self.node(src_port), self.node(to_port)
        src_id, dst_id = self.node_id(src_port), self.node_id(to_port)
        dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
        moved = 0
        while True:
            batch = src.execute_command("CLUSTER GETKEYSINSLOT", slot, 1)
            if not batch:
                break
            src.execute_command("MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *batch)
            moved += len(batch)
            time.sleep(pause)
        for port in (to_port, src_port, *(p for p in self.ports if p not in (to_port, src_port))):
            self.node(port).execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
        return moved


def free_ports(n: int) -> list[int]:
    """``n`` ports free for a cluster node and its bus (the port + 10000), below 55536."""
    out: list[int] = []
    for port in random.sample(range(20000, 55000), 2000):
        if all(_free(p) for p in (port, port + 10000)) and not {port, port + 10000} & {*out, *(p + 10000 for p in out)}:
            out.append(port)
            if len(out) == n:
                return out
    raise RuntimeError("no free ports for a local cluster")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def start(root: Path, ports: list[int], persist: bool = False) -> LocalCluster:
    """Start a cluster-enabled master on each port, under ``root``, and join them; ``persist`` keeps
    every acknowledged write on disk (append-only file, fsync always) for a kill and ``restart``."""
    root.mkdir(parents=True, exist_ok=True)
    for port in ports:
        d = root / str(port)
        d.mkdir(exist_ok=True)
        for f in d.glob("*"):
            f.unlink()
    if persist:
        (root / "persist").touch()
    try:
        _launch(root, ports)
        if len(ports) == 1:  # `--cluster create` wants three masters; one node simply takes every slot
            redis.Redis(port=ports[0]).execute_command("CLUSTER ADDSLOTS", *range(16384))
        else:
            subprocess.run(
                [
                    "redis-cli",
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{p}" for p in ports),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        _wait_ok(ports)
    except BaseException:
        stop(root, ports)  # no node left running behind a failed start
        raise
    return LocalCluster(root, ports)


def _launch(root: Path, ports: list[int]) -> None:
    """Start (or start again, from its nodes.conf) the node of each port."""
    aof = ["yes", "--appendfsync", "always"] if (root / "persist").exists() else ["no"]
    for port in ports:
        d = root / str(port)
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--daemonize",
                "yes",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "5000",
                "--save",
                "",
                "--appendonly",
                *aof,
                "--dir",
                str(d),
                "--pidfile",
                str(d / "redis.pid"),
                "--logfile",
                str(d / "redis.log"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    for port in ports:
        _wait(lambda p=port: redis.Redis(port=p, socket_timeout=1).ping())


def _wait_ok(ports: list[int]) -> None:
    _wait(lambda: all(redis.Redis(port=p, socket_timeout=1).cluster("info")["cluster_state"] == "ok" for p in ports))


def stop(root: Path, ports: list[int] | None = None) -> None:
    """Shut down the nodes under ``root`` (every port directory found there when none are given)."""
    ports = ports or [int(d.name) for d in root.glob("*") if d.name.isdigit()]
    for port in ports:
        with contextlib.suppress(redis.RedisError):  # already gone (shutdown also drops the connection it came on)
            redis.Redis(port=port, socket_timeout=2).shutdown(nosave=True)
    shutil.rmtree(root, ignore_errors=True)


def _wait(ready, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the local cluster did not come up")
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> None:
    """``start`` or ``stop`` a local cluster from the command line."""
    ap = argparse.ArgumentParser(prog="python -m tests.cluster")
    ap.add_argument("action", choices=("start", "stop"))
    ap.add_argument("--dir", type=Path, default=Path("/tmp/suppressor-cluster"))
    ap.add_argument("--port", type=int, help="the first node's port (the others follow); free ports if unset")
    ap.add_argument("--masters", type=int, default=3)
    a = ap.parse_args(argv)
    if a.action == "start":
        c = start(a.dir, list(range(a.port, a.port + a.masters)) if a.port else free_ports(a.masters))
        print(c.url)
    else:
        stop(a.dir)


if __name__ == "__main__":
    main(sys.argv[1:])
