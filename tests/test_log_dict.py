"""``log_dict``: JSON and YAML artifacts written as UTF-8 text, readable as written."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from sparktrack import TrackingClient

CONFIG = {"name": "Müller", "city": "São Paulo", "unit": "°C", "note": "日本語", "n": 1}


def test_log_dict_writes_utf8_json_and_yaml_without_escapes(tmp_path: Path) -> None:
    client = TrackingClient(str(tmp_path / "store"))
    run_id = client.create_run().info.run_id
    client.log_dict(run_id, CONFIG, "config.json")
    client.log_dict(run_id, CONFIG, "config.yaml")
    as_json = client.read_artifact(run_id, "config.json").decode("utf-8")
    as_yaml = client.read_artifact(run_id, "config.yaml").decode("utf-8")
    client.close()
    for text in (as_json, as_yaml):
        assert "Müller" in text and "São Paulo" in text and "日本語" in text, text
        assert "\\u" not in text and "\\x" not in text, text
    assert json.loads(as_json) == CONFIG
    assert yaml.safe_load(as_yaml) == CONFIG
    assert as_yaml.startswith("name: Müller\n")  # keys in the order given
