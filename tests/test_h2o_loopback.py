"""The loopback set-up of a local H2O, without starting H2O (the real H2O is checked by
tests/test_user_session.py: every port it opens answers on 127.0.0.1 only)."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

from sparktrack._h2o_loopback import LOOPBACK_NODE_OPTIONS, free_base_port, keep_on_loopback


class _Conf:
    """The three H2OConf methods keep_on_loopback uses."""

    def __init__(self, extra: str | None) -> None:
        self.extra = extra
        self.base_port: int | None = None

    def extraProperties(self) -> str | None:  # H2OConf's method names
        return self.extra

    def setExtraProperties(self, value: str) -> None:
        self.extra = value

    def setBasePort(self, port: int) -> None:
        self.base_port = port


def _session(spark_conf: dict[str, str]) -> Any:
    """A SparkSession as far as keep_on_loopback looks at it: its SparkConf's keys."""
    conf = SimpleNamespace(contains=lambda key: key in spark_conf)
    return SimpleNamespace(sparkContext=SimpleNamespace(getConf=lambda: conf))


def test_the_node_gets_loopback_options_after_the_users_own_and_a_free_base_port() -> None:
    conf = _Conf("-nthreads 2")
    keep_on_loopback(_session({}), conf)
    assert conf.extra == f"-nthreads 2 {LOOPBACK_NODE_OPTIONS}"
    assert conf.base_port is not None


def test_addresses_and_ports_the_user_chose_are_kept() -> None:
    for chosen in ("-ip 10.0.0.5", "-network 10.0.0.0/8", "-web_ip 0.0.0.0 -nthreads 2"):
        conf = _Conf(chosen)
        keep_on_loopback(_session({}), conf)
        assert conf.extra == chosen and conf.base_port is None
    conf = _Conf(None)
    keep_on_loopback(_session({"spark.ext.h2o.base.port": "60000"}), conf)
    assert conf.extra == LOOPBACK_NODE_OPTIONS and conf.base_port is None


def test_the_base_port_and_the_two_after_it_are_free_on_every_interface() -> None:
    base = free_base_port()
    for port in (base, base + 1, base + 2):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("", port))  # raises if anything holds the port on any address
