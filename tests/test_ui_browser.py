"""The UI in a real browser: Debian's chromium driven by Playwright, against `sparktrack ui`.

One server process (started as users start it, on a store this module builds with the
tracking API) and one browser serve the whole module; each test gets its own page.
Every test fails on a console error it did not expect, and on any request to a host
other than 127.0.0.1 (each is intercepted and aborted): the UI works air-gapped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from sparktrack.tracking import TrackingClient
from tests._drift_store import FEATURES, MODEL, QUIET, DriftStore, drift_store
from tests._processes import Child, child_env, python, start, wait_for
from tests._ui_store import UiStore, build_module_store, build_ui_store

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "images" / "ui-compare.png"
TOKEN = "browser-test-token"
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)


@dataclass
class Server:
    url: str
    child: Child
    store: UiStore | DriftStore


def _start_server(tmp: Path, store: UiStore | DriftStore, *options: str) -> Iterator[Server]:
    env = child_env(sparktrack_settings=False, SPARKTRACK_JOURNAL_DIR=str(tmp / "journal"))
    command = python("-m", "sparktrack.cli", "--store", store.uri, "ui", "--port", "0", *options)
    child = start(command, stderr_dir=tmp, env=env, name="ui-server")
    try:
        words = child.expect_line("sparktrack UI at ")
        yield Server(words[-1], child, store)
    finally:
        child.stop()
    # uvicorn ends by re-raising the SIGTERM it handled: the status says "terminated".
    assert child.process.returncode in (0, -15), child.explain("the UI server did not stop cleanly")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> UiStore:
    return build_module_store(tmp_path_factory, "ui-browser")


@pytest.fixture(scope="module")
def server(built: UiStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start_server(tmp_path_factory.mktemp("ui-server"), built)


@pytest.fixture(scope="module")
def writable_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server allowing changes, with a token, on a store of its own."""
    root = tmp_path_factory.mktemp("ui-writes")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARKTRACK_JOURNAL_DIR", str(root / "journal"))
        store = build_ui_store(str(root / "store"))
    yield from _start_server(root, store, "--allow-writes", "--token", TOKEN)


@pytest.fixture(scope="module")
def drift_server(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on monitoring passes ``sparktrack.monitor`` made (tests/_drift_store.py)."""
    store = drift_store(spark, tmp_path_factory)
    yield from _start_server(tmp_path_factory.mktemp("ui-drift-server"), store)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """A page, and what it did that a test must not let pass unnoticed."""

    page: Any
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect_error(self, pattern: str) -> None:
        """A console error this test provokes on purpose (a 400 for a bad filter)."""
        self.expected.append(re.compile(pattern))


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    seen = Watched(page)

    def keep_local(route: Any) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            seen.foreign.append(route.request.url)
            route.abort()

    context.route("**/*", keep_local)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: seen.errors.append(f"uncaught: {exc}"))
    page.on("dialog", lambda d: seen.errors.append(f"dialog opened: {d.message}"))
    yield seen
    context.close()
    unexpected = [e for e in seen.errors if not any(p.search(e) for p in seen.expected)]
    assert not unexpected, f"console errors: {unexpected}"
    assert not seen.foreign, f"requests that left 127.0.0.1: {seen.foreign}"


def _open_runs(page: Any, server: Server) -> None:
    page.goto(server.url + "#/experiments")
    page.get_by_role("link", name="churn", exact=True).click()
    page.wait_for_selector("[data-testid=run-row]")


def _row(page: Any, name: str) -> Any:
    return page.locator("tr", has=page.locator(f"[data-testid=run-link]:text-is('{name}')"))


def _until(page: Any, expression: str) -> None:
    """Wait until a JavaScript expression is true in the page.

    Polled from here with ``evaluate``: Playwright's own ``wait_for_function`` evaluates
    its predicate from a string, which the UI's CSP (no 'unsafe-eval') refuses.
    """
    wait_for(lambda: page.evaluate(expression), expression, timeout=TIMEOUT_MS / 1000)


def _traces(page: Any, selector: str) -> int:
    """How many series a chart shows (its legend's entries), once it says it is drawn
    and its canvas holds more than the axes (a series' pixels)."""
    page.wait_for_selector(f"{selector}[data-drawn=true]")
    chart = f"document.querySelector({json.dumps(selector)})"
    painted = page.evaluate(
        f"(() => {{ const plot = {chart}.uplot; const c = plot.ctx;"
        " const { left, top, width, height } = plot.bbox;"
        " const px = c.getImageData(left, top, width, height).data; let n = 0;"
        " for (let i = 0; i < px.length; i += 4) {"
        "   const [r, g, b, a] = [px[i], px[i + 1], px[i + 2], px[i + 3]];"
        "   if (a > 0 && (Math.abs(r - g) > 40 || Math.abs(g - b) > 40)) n++; }"
        " return n; })()"
    )
    assert painted > 20, f"{selector}: nothing coloured drawn ({painted} pixels)"
    count: int = page.locator(f"{selector} .u-legend .u-series").count() - 1  # minus x
    return count


# -- pages --------------------------------------------------------------------------------
def test_experiments_are_listed_with_run_counts_and_searched(
    watched: Watched, server: Server
) -> None:
    page = watched.page
    page.goto(server.url)
    page.wait_for_selector("[data-testid=experiment-row]")
    assert page.locator("[data-testid=experiment-row]").count() == 3
    churn = page.locator("[data-testid=experiment-row]", has_text="churn")
    assert churn.locator("[data-testid=run-count]").inner_text() == "18"
    # Several experiments' runs in one table.
    for name in ("churn", "empty"):
        page.locator("[data-testid=experiment-row]", has_text=name).locator("input").check()
    page.click("[data-testid=open-selected]")
    page.locator("h1", has_text="Runs of churn, empty").wait_for()
    page.wait_for_selector("[data-testid=run-row]")
    page.go_back()
    page.wait_for_selector("[data-testid=experiment-row]")
    page.fill("[data-testid=experiment-search]", "WID")
    _until(page, "document.querySelectorAll('[data-testid=experiment-row]').length === 1")
    assert "wide" in page.locator("[data-testid=experiment-row]").inner_text()
    assert "read-only" in page.locator("#mode").inner_text()


def test_runs_table_filters_sorts_groups_and_chooses_columns(
    watched: Watched, server: Server
) -> None:
    page = watched.page
    _open_runs(page, server)
    assert page.locator("[data-testid=run-row]").count() == 7
    # Nested runs are collapsed under their parent, and open on demand.
    children = page.locator("[data-testid=child-row]:visible")
    assert children.count() == 0
    _row(page, "tuning").locator("[data-testid=expand]").click()
    visible_children = "[...document.querySelectorAll('[data-testid=child-row]')]"
    _until(page, visible_children + ".filter(r => !r.hidden).length === 3")

    # Sorting by a metric column, both ways.
    page.locator("th[data-sort='metrics.`acc`']").click()
    first = "document.querySelector('[data-testid=run-row] [data-testid=run-link]').textContent"
    _until(page, first + " === 'lr-4'")
    page.locator("th[data-sort='metrics.`acc`']").click()
    _until(page, first + " === 'lr-0'")

    # The filter box: a match, then an error shown where it occurs.
    page.fill("[data-testid=filter]", "params.lr = '0.1'")
    page.press("[data-testid=filter]", "Enter")
    _until(page, "document.querySelectorAll('[data-testid=run-row]').length === 3")
    names = page.locator("[data-testid=run-row] [data-testid=run-link]").all_inner_texts()
    assert sorted(names) == ["lr-0", "lr-2", "tuning-0"]  # tuning-0's parent did not match
    watched.expect_error(r"status of 400")
    page.fill("[data-testid=filter]", "metrics.acc >> 1")
    page.click("[data-testid=apply-filter]")
    mark = page.wait_for_selector("[data-testid=error-position]")
    assert mark.inner_text() == ">"
    assert "position 13" in page.locator("[data-testid=filter-error]").inner_text()

    # The column chooser: find a tag among the keys and show it.
    page.fill("[data-testid=filter]", "")
    page.press("[data-testid=filter]", "Enter")
    _until(page, "document.querySelectorAll('[data-testid=run-row]').length === 7")
    page.click("[data-testid=columns-button]")
    page.select_option("[data-testid=column-kind]", "tags")
    page.fill("[data-testid=column-search]", "tea")
    page.locator("[data-testid=column-option]", has_text="team").click()
    page.wait_for_selector("th[data-sort='tags.`team`']")
    assert _row(page, "lr-1").locator("td").last.inner_text() == "growth"
    assert page.locator("[data-testid=next-page]").is_disabled()
    assert page.locator("[data-testid=runs-summary]").inner_text() == "1\N{EN DASH}7 of 7 runs"


def test_run_page_draws_its_curves(watched: Watched, server: Server) -> None:
    page = watched.page
    _open_runs(page, server)
    page.locator("[data-testid=run-link]", has_text="lr-0").click()
    page.wait_for_selector("[data-testid=run-name]")
    assert "lr-0" in page.locator("[data-testid=run-name]").inner_text()
    for metric in ("acc", "loss"):
        assert _traces(page, f"[data-testid=chart][data-metric={metric}]") == 1
    assert page.locator("[data-testid=chart]").count() == 2
    title = page.locator("[data-testid=chart][data-metric=loss] .u-title").text_content()
    assert "2000 of 5000 points" in title  # downsampled on the server
    facts = page.locator("[data-testid=facts]").inner_text()
    assert "User" in facts and "Git commit" in facts
    commit = page.locator("[data-testid=facts] a", has_text="0123abc")
    assert commit.get_attribute("href") == "https://git.example/acme/churn/commit/0123abc"
    assert "team" in page.locator("[data-testid=tags]").inner_text()
    assert "customers" in page.locator("[data-testid=inputs]").inner_text()

    page.check("[data-testid=overlay]")
    assert _traces(page, "[data-testid=chart][data-metric=overlay]") == 2
    page.check("[data-testid=log-scale]")
    chart = "document.querySelector('[data-testid=chart]').uplot"
    _until(page, f"{chart}.scales.y.distr === 3")  # logarithmic
    # A point of the second series (gaps where only the first has a step are null).
    point = page.evaluate(f"{chart}.data[2].findIndex((v, i) => i >= 40 && v !== null)")
    raw = page.evaluate(f"{chart}.data[2][{point}]")
    page.locator("[data-testid=smoothing]").fill("0.9")
    _until(page, f"{chart}.data[2][{point}] !== {raw}")
    page.select_option("[data-testid=x-axis]", "wall")
    _until(page, f"{chart}.scales.x.time === true")


def _preview(page: Any, path: str) -> Any:
    folder = path.rpartition("/")[0]
    if folder and page.locator(f"[data-testid=artifact][data-path='{path}']").count() == 0:
        page.click(f"[data-testid=artifact][data-path='{folder}']")
    page.click(f"[data-testid=artifact][data-path='{path}']")
    page.wait_for_selector(f"[data-testid=artifact-preview] strong:text-is('{path}')")
    return page.locator("[data-testid=artifact-preview]")


def test_artifacts_of_every_kind_are_previewed_and_downloaded(
    watched: Watched, server: Server
) -> None:
    page = watched.page
    page.goto(f"{server.url}#/run/{server.store.runs['lr-0']}")
    page.wait_for_selector("[data-testid=artifact]")
    assert "hello from the run" in _preview(page, "notes.txt").locator("pre").inner_text()
    json_text = _preview(page, "config.json").locator("pre").inner_text()
    assert json.loads(json_text) == {"lr": 0.1, "layers": [64, 32]}
    assert "seed: 7" in _preview(page, "params.yaml").locator("pre").inner_text()
    table = _preview(page, "data/sample.csv").locator("[data-testid=preview-table]")
    assert table.locator("th").all_inner_texts() == ["plan", "age", "churned"]
    assert table.locator("tbody tr").count() == 2
    image = _preview(page, "plots/roc.png").locator("[data-testid=preview-image]")
    _until(page, "document.querySelector('[data-testid=preview-image]').naturalWidth === 2")
    assert image.get_attribute("src").startswith("blob:")
    model = _preview(page, "model/MLmodel")
    assert "python_function, spark" in model.inner_text()
    inputs = model.locator("[data-testid=signature-inputs] tbody tr").all_inner_texts()
    assert [row.split("\t")[0] for row in inputs] == ["age", "plan"]
    # Uploaded HTML is text: it shows, it does not run (a dialog would fail the test).
    assert "<script>" in _preview(page, "report.html").locator("pre").inner_text()
    assert _preview(page, "weights.bin").locator("[data-testid=preview-none]").count() == 1
    with page.expect_download() as download:
        _preview(page, "notes.txt").locator("[data-testid=download]").click()
    assert Path(download.value.path()).read_text() == "hello from the run\nline two\n"
    # What ran: the source snapshot, its files read as text.
    page.click("[data-testid=snapshot-link]")
    page.click("[data-testid=snapshot-file][data-name='requirements.txt']")
    page.wait_for_selector("[data-testid=snapshot-text]:has-text('pyspark==')")


def test_three_runs_are_compared(watched: Watched, server: Server, tmp_path: Path) -> None:
    page = watched.page
    _open_runs(page, server)
    for name in ("lr-0", "lr-2", "lr-4"):
        _row(page, name).locator("[data-testid=select-run]").check()
    page.click("[data-testid=compare-selected]")
    page.wait_for_selector("[data-testid=compare-params]")
    rows = page.locator("[data-testid=param-row]")
    differs = {r.get_attribute("data-key"): r.get_attribute("class") for r in rows.all()}
    assert differs == {"depth": "diff", "lr": "diff", "optimizer": ""}
    assert _traces(page, "[data-testid=compare-curves]") == 3
    assert _traces(page, "[data-testid=compare-parallel]") == 3
    assert _traces(page, "[data-testid=compare-scatter]") == 3  # a point per run
    page.check("[data-testid=only-differences]")
    assert page.locator("[data-testid=param-row]:visible").count() == 2
    # The README's picture of the UI: taken on every run, written into docs/ only when
    # asked (UPDATE_DOCS_SCREENSHOTS=1), so a test run never changes the source tree.
    shot = tmp_path / SCREENSHOT.name
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000, "the screenshot of the compare page is blank"
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)


def test_a_sweep_is_followed_to_its_trials(watched: Watched, server: Server) -> None:
    page = watched.page
    _open_runs(page, server)
    page.click("[data-testid=sweep-page-link]")
    page.wait_for_selector("[data-testid=state-counts]")
    counts = page.locator("[data-testid=state-counts]").inner_text()
    assert re.search(r"complete\s+6", counts) and re.search(r"pruned\s+1", counts)
    assert re.search(r"failed\s+1", counts)
    assert _traces(page, "[data-testid=sweep-trials]") == 2  # trials and best so far
    page.select_option("[data-testid=sweep-x]", "time")
    trials = "document.querySelector('[data-testid=sweep-trials]')"
    _until(page, trials + ".uplot.scales.x.time === true")
    page.wait_for_selector("[data-testid=sweep-importances][data-drawn=true]")
    assert page.locator("[data-testid=importance]").count() == 2
    assert page.locator("[data-testid=trial-row]").count() == 8
    page.locator("[data-testid=trial-link]").nth(5).click()
    page.wait_for_selector("[data-testid=run-name]")
    assert "trial-5" in page.locator("[data-testid=run-name]").inner_text()
    page.click("[data-testid=parent-link]")
    page.click("[data-testid=sweep-link]")
    page.wait_for_selector("[data-testid=state-counts]")


def test_registry_changes_are_refused_when_read_only(watched: Watched, server: Server) -> None:
    page = watched.page
    page.goto(server.url + "#/registry")
    page.get_by_role("link", name="churn-model").click()
    page.wait_for_selector("[data-testid=version-row]")
    assert page.locator("[data-testid=version-row]").count() == 2
    assert page.locator("[data-testid=apply-stage]").first.is_disabled()
    assert "--allow-writes" in page.locator("[data-testid=read-only-note]").inner_text()
    page.goto(f"{server.url}#/run/{server.store.runs['lr-1']}")
    page.wait_for_selector("[data-testid=run-name]")
    assert page.locator("[data-testid=run-changes]").count() == 0
    page.goto(server.url + "#/registry/churn-model")
    page.wait_for_selector("[data-testid=version-row]")
    assert (
        "serve models:/churn-model/2"
        in page.locator("[data-testid=serve-command]").first.inner_text()
    )
    assert page.locator("[data-testid=history-row]").count() == 3
    # The server refuses too, whatever the page shows.
    watched.expect_error(r"status of 403")
    status = page.evaluate(
        """fetch('/api/registry/models/churn-model/versions/2/stage', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: '{"stage": "Production"}'})
            .then(r => r.status)"""
    )
    assert status == 403


def test_a_model_is_promoted_when_changes_are_allowed(
    watched: Watched, writable_server: Server
) -> None:
    page = watched.page
    # The printed URL carries the token after '#': the page keeps it, the server never
    # sees it in a URL.
    assert writable_server.url.endswith(f"#token={TOKEN}")
    page.goto(writable_server.url)
    page.wait_for_selector("[data-testid=experiment-row]")
    assert "changes allowed" in page.locator("#mode").inner_text()
    page.goto(writable_server.url.split("#")[0] + "#/registry/churn-model")
    version = page.locator("[data-testid=version-row][data-version='2']")
    version.locator("[data-testid=stage-select]").select_option("Production")
    version.locator("[data-testid=apply-stage]").click()
    _until(
        page,
        "document.querySelector(\"[data-version='2'] [data-testid=version-stage]\")"
        ".textContent === 'Production'",
    )
    assert page.locator("[data-testid=history-row]").count() == 4
    version.locator("[data-testid=alias-input]").fill("champion")
    version.locator("[data-testid=set-alias]").click()
    version.locator(".chip", has_text="@champion").wait_for()
    model = _api(writable_server, "api/registry/models/churn-model")
    assert model["versions"][0]["current_stage"] == "Production"
    assert model["model"]["aliases"] == {"champion": 2}

    # Runs are renamed and tagged from their page.
    run_id = writable_server.store.runs["lr-1"]
    page.goto(writable_server.url.split("#")[0] + f"#/run/{run_id}")
    page.fill("[data-testid=rename-input]", "renamed-in-the-ui")
    page.click("[data-testid=rename]")
    page.locator("[data-testid=run-name]", has_text="renamed-in-the-ui").wait_for()
    page.fill("[data-testid=tag-key]", "reviewed")
    page.fill("[data-testid=tag-value]", "yes")
    page.click("[data-testid=set-tag]")
    page.locator("[data-testid=tags]", has_text="reviewed").wait_for()
    assert _api(writable_server, f"api/runs/{run_id}")["tags"]["reviewed"] == "yes"


def _api(server: Server, path: str) -> Any:
    request = urllib.request.Request(
        server.url.split("#")[0] + path, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def test_running_runs_refresh_live(watched: Watched, server: Server) -> None:
    page = watched.page
    client = TrackingClient(server.store.uri)
    try:
        run = client.create_run(server.store.empty_experiment_id, run_name="live-one")
        client.flush()
        page.goto(f"{server.url}#/runs?e={server.store.empty_experiment_id}")
        row = _row(page, "live-one")
        row.wait_for()
        assert "RUNNING" in row.inner_text()
        assert "1 running" in page.locator("[data-testid=live]").inner_text()
        client.set_terminated(run.info.run_id, "FINISHED")
        client.flush()
        wait_for(
            lambda: "FINISHED" in _row(page, "live-one").inner_text(),
            "the runs table to show the run FINISHED without a reload",
            timeout=30,
        )
        assert page.locator("[data-testid=live]").inner_text() == ""
    finally:
        client.close()


def _series(page: Any, selector: str) -> dict[str, list[Any]]:
    """A chart's series by label: its values at each x."""
    found: dict[str, list[Any]] = page.evaluate(
        f"(() => {{ const plot = document.querySelector({json.dumps(selector)}).uplot;"
        " return Object.fromEntries("
        "   plot.series.slice(1).map((s, i) => [s.label, plot.data[i + 1]]));"
        " })()"
    )
    return found


@pytest.mark.spark
def test_drift_over_time_per_model_version(watched: Watched, drift_server: Server) -> None:
    page = watched.page
    store = drift_server.store
    assert isinstance(store, DriftStore)
    reports, run_ids = store.windowed.reports, store.windowed.run_ids
    page.goto(f"{drift_server.url}#/registry/{MODEL}")
    version_1 = page.locator("[data-testid=version-row][data-version='1']")
    version_1.locator("[data-testid=version-drift-link]").click()
    chart = "[data-testid=drift-chart]"
    # PSI of each feature and of the predictions, the two thresholds, a marker per status.
    assert _traces(page, chart) == len(FEATURES) + 1 + 2 + 3
    series = _series(page, chart)
    for feature in FEATURES:
        psi = [next(r["psi"] for r in rep["columns"] if r["column"] == feature) for rep in reports]
        assert series[feature] == pytest.approx(psi)
    assert series["WARN (PSI ≥ 0.1)"] == [0.1] * 3
    assert series["ALERT (PSI ≥ 0.25)"] == [0.25] * 3
    for status in ("OK", "WARN", "ALERT"):
        marked = [value is not None for value in series[f"{status} pass"]]
        assert marked == [rep["status"] == status for rep in reports], status
    assert series["ALERT pass"][-1] is not None  # the shifted day

    # The latest pass per column, as its report judged it.
    rows = page.locator("[data-testid=drift-column-row]")
    shown = {
        rows.nth(i).get_attribute("data-column"): rows.nth(i).get_attribute("data-status")
        for i in range(rows.count())
    }
    assert shown == {r["column"]: r["status"] for r in reports[-1]["columns"]}
    assert shown["x1"] == "ALERT"
    assert page.locator("[data-testid=drift-decay-row][data-metric=accuracy]").count() == 1

    # Every pass, newest first, with its run and its report.
    passes = page.locator("[data-testid=drift-pass-row]")
    assert [passes.nth(i).get_attribute("data-run") for i in range(3)] == run_ids[::-1]
    assert passes.first.get_attribute("data-status") == "ALERT"
    with page.expect_download() as download:
        passes.first.locator("[data-testid=drift-report]").click()
    assert download.value.suggested_filename.endswith("drift_report.html")
    assert "x1" in Path(download.value.path()).read_text()

    # Another version, by the picker: its one pass, the address following.
    page.select_option("[data-testid=drift-version]", "2")
    _until(page, f"document.querySelector('{chart}').uplot.data[0].length === 1")
    assert "version=2" in page.evaluate("window.location.hash")
    page.locator("[data-testid=drift-run-link]").click()
    page.wait_for_selector("[data-testid=run-name]")
    assert page.evaluate("window.location.hash") == f"#/run/{store.whole.run_id}"
    page.click("[data-testid=run-drift-link]")  # and back, from the pass's run page
    picker = "document.querySelector('[data-testid=drift-version]')"
    _until(page, f"{picker} !== null && {picker}.value === '2'")

    # A model never monitored says how to start.
    page.goto(f"{drift_server.url}#/drift/{QUIET}")
    how = page.locator("[data-testid=drift-how]").inner_text()
    assert f"monitor models:/{QUIET}/<version>" in how


def test_a_page_naming_another_host_is_refused(server: Server) -> None:
    # DNS rebinding: a web page points a name of its own at 127.0.0.1 and reads the
    # answers. On loopback the server only answers requests that name a loopback host.
    request = urllib.request.Request(
        server.url + "api/experiments", headers={"Host": "attacker.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400
    with urllib.request.urlopen(server.url + "api/experiments") as answer:
        assert answer.status == 200
