"""The README a newcomer reads: its quickstart runs as written, its links lead somewhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sparktrack import TrackingClient
from sparktrack.registry import RegistryClient

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"


def _section(text: str, name: str) -> str:
    """A part of the README between its ``--8<-- [start:name]`` / ``[end:name]`` marks.

    The same marks put it on the documentation site (pymdownx.snippets), so what this
    test runs is what both show.
    """
    match = re.search(
        rf"--8<-- \[start:{name}\][^\n]*\n(.*?)\n[^\n]*--8<-- \[end:{name}\]", text, re.DOTALL
    )
    assert match, f"README.md has no section {name!r}"
    return match.group(1)


def _python_block(markdown: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", markdown, re.DOTALL)
    assert len(blocks) == 1, f"expected one python block, found {len(blocks)}"
    return blocks[0]


@pytest.mark.spark
@pytest.mark.slow
def test_the_quickstart_runs_as_written(tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text(_python_block(_section(README.read_text(), "quickstart")))
    store = tmp_path / "sparktrack-store"  # the default store, in the folder it runs in
    env = {k: v for k, v in os.environ.items() if k != "SPARKTRACK_STORE"}
    # A user's run: autolog's background thread, not the tests' synchronous mode.
    env.pop("SPARKTRACK_AUTOLOG_TESTING", None)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "Pipeline" in done.stdout and "by-hand" in done.stdout, done.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "sparktrack.cli", "runs", "list", "--experiment", "quickstart"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr
    assert "Pipeline" in listed.stdout and "by-hand" in listed.stdout, listed.stdout
    client = TrackingClient(str(store))
    try:
        experiment = client.get_experiment_by_name("quickstart")
        assert experiment is not None
        runs = client.search_runs([experiment.experiment_id])
        assert sorted(runs["run_name"]) == ["Pipeline", "by-hand"]
        assert set(runs["status"]) == {"FINISHED"}
        version = RegistryClient(client).resolve("models:/quickstart/1")
        pipeline = runs[runs["run_name"] == "Pipeline"]["run_id"].iloc[0]
        assert version.source == f"runs:/{pipeline}/model"
    finally:
        client.close()


def _github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_the_readme_links_lead_somewhere() -> None:
    text = README.read_text()
    anchors = {_github_anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links, "the README links to nothing"
    for link in links:
        if link.startswith(("http://", "https://")):
            continue
        path, _, anchor = link.partition("#")
        if path:
            assert (ROOT / path).exists(), f"README links to {link!r}, which does not exist"
        else:
            assert anchor in anchors, f"README links to {link!r}, a heading it does not have"


def _estimator_name(jvm_class: str) -> str:
    """The pyspark name users know for a fitted stage's JVM class."""
    name = jvm_class.rsplit(".", 1)[-1]
    if name.endswith("ClassificationModel"):
        return name.removesuffix("ClassificationModel") + "Classifier"
    if name.startswith(("DecisionTree", "RandomForest", "GBT")):
        return name.removesuffix("RegressionModel") + "Regressor"
    return name.removesuffix("Model")


def test_the_covered_stages_table_lists_what_the_local_scorer_covers() -> None:
    """The README's table of stages scored without a JVM is the scorer's registry:
    nothing covered is missing from it, nothing in it falls back to Spark."""
    from sparktrack.models._local_scorer import covered_stages

    table = _section(README.read_text(encoding="utf-8"), "covered-stages")
    listed = set()
    for line in table.splitlines()[2:]:  # past the header and its rule
        first_cell = line.split("|")[1]
        listed.update(re.findall(r"`(\w+)`", re.sub(r"\(.*?\)", "", first_cell)))
    assert listed == {_estimator_name(c) for c in covered_stages()}
