"""The MLflow UI as a person sees it: `predictor ui`, then headless Chromium on the run page.

Needs Debian's chromium (installed by .ci/run); skipped where it is absent.
"""

import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from .helpers import free_port, store, wait_until_up
from .test_train import train

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    proc, uri = train(tmp, "uitest", 600, "--no-register")
    assert proc.returncode == 0, proc.stderr[-2000:]
    run_id = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("run "))
    port = free_port()
    # The server's output goes to a file, not a pipe nobody reads: MLflow's server logs a line per
    # request (about 3 KB a page load), so after a few dozen loads a full 64 KB pipe blocked the
    # server mid-request and every later page hung in Chromium (the last tests of this module
    # failed, or passed when run alone).
    log = (tmp / "ui.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "predictor", "ui", "--port", str(port), "--tracking-uri", uri],
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/health", server, 60)
        yield base, run_id, tmp
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.close()


def _chromium(url: str, tmp, *args) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{time.monotonic_ns()}"
    return subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1400,1000",
            "--virtual-time-budget=20000",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_run_page_shows_the_run_and_its_metrics(ui):
    base, run_id, tmp = ui
    import mlflow

    exp_id = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}").get_run(run_id).info.experiment_id
    shot = tmp / "run.png"
    dom = _chromium(f"{base}/#/experiments/{exp_id}/runs/{run_id}", tmp, "--dump-dom", f"--screenshot={shot}").stdout
    assert "uitest-seed3" in dom  # the run name
    assert "validation/response/xgboost/auc" in dom or "validation/survival/xgboost/harrell_c" in dom
    assert shot.exists() and shot.stat().st_size > 10_000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_artifact_view_shows_the_shap_plot(ui):
    base, run_id, tmp = ui
    import mlflow

    exp_id = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}").get_run(run_id).info.experiment_id
    url = f"{base}/#/experiments/{exp_id}/runs/{run_id}/artifacts/shap/response_beeswarm.png"
    shot = tmp / "artifact.png"
    dom = _chromium(url, tmp, "--dump-dom", f"--screenshot={shot}").stdout
    assert "response_beeswarm.png" in dom
    # The image the page shows, fetched as the page fetches it: a PNG.
    png = urllib.request.urlopen(
        f"{base}/get-artifact?path=shap/response_beeswarm.png&run_uuid={run_id}", timeout=10
    ).read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert shot.exists() and shot.stat().st_size > 10_000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_printed_link_opens_the_classic_run_page_with_the_summary(ui_link):
    """The link `predictor train` prints (with the UI's address) shows the run in MLflow's classic
    view, not the GenAI page, and the run's description holds the summary table."""
    import re

    url, tmp = ui_link
    dom = _chromium(url, tmp, "--dump-dom").stdout
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert "Harrell's C" in text and "XGBoost [95% CI]" in text  # the description's table
    assert "Description" in text and "Model metrics" in text  # the classic run page
    # MLflow 3's GenAI navigation (seen on the same page without ?workflowType=machine_learning)
    assert "Sessions" not in text and "Evaluation" not in text
    # ... and the experiment's runs table, in the same view
    runs = _chromium(url.split("/runs/")[0] + "?workflowType=machine_learning", tmp, "--dump-dom").stdout
    runs_text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", runs))
    assert "Runs" in runs_text and "Sessions" not in runs_text and "uitest-seed3" in runs_text


@pytest.fixture(scope="module")
def ui_link(ui):
    base, run_id, tmp = ui
    import mlflow

    exp_id = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}").get_run(run_id).info.experiment_id
    printed = f"http://127.0.0.1:5000/#/experiments/{exp_id}/runs/{run_id}?workflowType=machine_learning"
    return printed.replace("http://127.0.0.1:5000", base), tmp


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_artifact_view_renders_the_model_report(ui):
    """The TRIPOD+AI model report (report/model_report.html) is shown as a page by MLflow's
    artifact viewer: its sections are in the rendered document."""
    base, run_id, tmp = ui
    import mlflow

    exp_id = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}").get_run(run_id).info.experiment_id
    url = (
        f"{base}/#/experiments/{exp_id}/runs/{run_id}/artifacts/report/model_report.html?workflowType=machine_learning"
    )
    shot = tmp / "report.png"
    dom = _chromium(url, tmp, "--dump-dom", f"--screenshot={shot}").stdout
    # The viewer shows an HTML artifact as a page in a sandboxed frame (a blob: its document is
    # not part of this DOM) ...
    assert "model_report.html" in dom and 'class="mlflow-html-iframe"' in dom
    # ... whose content is the report, fetched as the viewer fetches it.
    page = urllib.request.urlopen(
        f"{base}/get-artifact?path=report/model_report.html&run_uuid={run_id}", timeout=10
    ).read()
    text = page.decode("utf-8")
    for section in (
        "Intended use and limits",
        "Source of data and participants",
        "Predictors and missing data",
        "Models",
        "Performance",
        "Calibration, risk groups and decision curves",
        "Explainability",
        "Limitations",
    ):
        assert f"<h2>{section}</h2>" in text, section
    assert text.count("data:image/png;base64,") >= 3  # figures embedded: the page stands alone
    assert shot.exists() and shot.stat().st_size > 30_000


@pytest.mark.parametrize("signum", [15, 1])
def test_predictor_ui_stops_its_server_when_it_alone_gets_sigterm_or_sighup(tmp_path, signum):
    """A process manager or a closed session signals `predictor ui` alone, not its process group:
    the MLflow server (and the uvicorn process it starts) must go too, and free the port."""
    import socket

    port = free_port()
    ui = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "predictor",
            "ui",
            "--port",
            str(port),
            "--tracking-uri",
            store(tmp_path),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", ui, 90)
        os.kill(ui.pid, signum)  # the `predictor ui` process alone
        ui.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the port frees once the last server process is gone
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    break
            time.sleep(0.2)
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, "the MLflow server still serves the port"
    finally:
        try:
            os.killpg(ui.pid, 9)  # whatever is left of the group, if the test failed
        except ProcessLookupError:
            pass
