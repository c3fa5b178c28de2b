"""Notebook 00 in a real JupyterLab, driven by a real browser.

nbval checks what a notebook's cells print; only a browser shows what a learner sees: the
usage table rendered as HTML, the chart as an image, and a menu widget that talks back to
the kernel. This test starts Lab, opens notebook 00 in Debian's chromium through
Playwright, runs every cell, checks the page, then changes the "group by" menu.

Playwright normally downloads its own browser; that needs the internet, so this test
uses the system's /usr/bin/chromium instead (`make test` installs it when run as root).
"""
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from system_packages import skip_unless_installed
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "00_setup.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
# Without the "background" flags chromium keeps trying to reach Google's servers.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


# Straight to 127.0.0.1, whatever http_proxy a learner's machine sets.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get_json(url: str):
    with _direct.open(url, timeout=2) as answer:
        return json.load(answer)


def free_port() -> int:
    """A port no one is listening on: the OS picks one when we bind to port 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def chromium() -> Path:
    skip_unless_installed("chromium", str(CHROMIUM), "the browser test")
    return CHROMIUM


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of notebook 00 with its outputs cleared.

    Yields lab.url, lab.token and lab.notebook (the copy).

    A copy, so that Lab never writes to the committed notebook; cleared, so that every
    table and chart the test finds was made by this run, not saved by an earlier one.
    (The setup cell finds its cassette through the installed labkit, so the copy's folder
    does not matter.)
    """
    root = tmp_path / "notebooks"
    root.mkdir()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    copy = root / NOTEBOOK.name
    nbformat.write(notebook, copy)

    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
               "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # Jupyter refuses to run as root unless told
    log_path = tmp_path / "lab.log"
    with open(log_path, "wb") as log:
        # os.environ is what conftest.py prepared: temp config dirs, replay backend.
        # A process group of its own, so that teardown can signal Lab's whole group.
        lab_process = subprocess.Popen(command, cwd=root, env=os.environ.copy(),
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get_json(f"{url}/api/status?token={token}")  # raises until Lab answers 200
                break
            except OSError:
                pass  # not listening yet
            if lab_process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"JupyterLab did not start (exit code {lab_process.poll()}):\n{tail}")
            time.sleep(0.2)
        yield SimpleNamespace(url=url, token=token, notebook=copy)
    finally:
        # SIGTERM lets Lab shut its kernels down; kernels also exit by themselves when
        # the Lab that started them dies (they watch their parent's process id).
        for sig, grace in [(signal.SIGTERM, 20), (signal.SIGKILL, 10)]:
            try:
                os.killpg(lab_process.pid, sig)
            except ProcessLookupError:
                break  # already gone
            try:
                lab_process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue


def wait_for_kernel(lab, timeout: float) -> None:
    """Until Lab has an idle kernel that a page is connected to."""
    deadline, kernels = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            kernels = get_json(f"{lab.url}/api/kernels?token={lab.token}")
        except OSError as error:
            # Jupyter Server answers 500 while a kernel is half-started (it has no
            # last_activity yet); ask again.
            kernels = error
        else:
            if any(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels):
                return
        time.sleep(0.2)
    pytest.fail(f"no kernel ready after {timeout} s; last answer: {kernels}")


def test_notebook_00_in_jupyterlab(chromium, lab, tmp_path):  # chromium first: skip before Lab starts
    code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(lab.notebook, as_version=4).cells)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            # Tall, so that the screenshot shows the ledger table and the chart together.
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.set_default_timeout(30_000)
            page.goto(f"{lab.url}/lab/tree/{lab.notebook.name}?token={lab.token}")

            # Wait for the kernel before running anything: "Run All" without one opens a
            # "Select Kernel" dialog. The page's kernel indicator cannot tell us, as it says
            # "idle" before any kernel exists; the server can: the page has connected to it.
            wait_for_kernel(lab, timeout=60)
            kernel = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")
            expect(kernel).to_have_attribute("data-status", "idle")

            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            # Done when every code cell shows a number, "[3]:". Run All stops at the first
            # error, so stop waiting when one shows up: Lab draws an error as red text of
            # the stderr type, like anything a cell prints to sys.stderr.
            page.wait_for_function(
                """count => {
                    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                    const stderr = [...document.querySelectorAll(
                        '[data-mime-type="application/vnd.jupyter.stderr"]')];
                    return stderr.some(output => /Traceback|Error/.test(output.textContent))
                        || (prompts.length === count
                            && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim())));
                }""",
                arg=code_cells, timeout=60_000)
            errors = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]',
                                  has_text=re.compile("Traceback|Error"))
            assert errors.count() == 0, "a cell failed:\n" + "\n".join(errors.all_inner_texts())
            expect(kernel).to_have_attribute("data-status", "idle")

            # The usage ledger renders as an HTML table with a row per call.
            ledger = page.locator(".jp-OutputArea-output table", has_text="explainer").filter(has_text="triager")
            expect(ledger.first).to_be_visible()

            # The chart is an image that the browser actually drew.
            chart_cell = page.locator(".jp-CodeCell", has_text="plt.show()")
            chart = chart_cell.locator(".jp-OutputArea-output").locator("img, svg").first
            chart.scroll_into_view_if_needed()
            expect(chart).to_be_visible()
            box = chart.bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0, f"chart has no size: {box}"

            ledger.first.evaluate("table => table.scrollIntoView({block: 'start'})")
            screenshot = tmp_path / "lab.png"
            page.screenshot(path=screenshot, full_page=True)
            print(f"screenshot: {screenshot}")

            # The menu talks to the kernel: choosing "model" makes it re-run the summary.
            widget_cell = page.locator(".jp-CodeCell", has_text="widgets.interact")
            widget_cell.scroll_into_view_if_needed()
            widget_cell.locator(".widget-dropdown select").select_option("model")
            summary = widget_cell.locator(".widget-output")
            expect(summary.locator("table tbody th", has_text="SmolLM2-135M-Instruct")).to_be_visible()
            expect(summary).not_to_contain_text("explainer")
        finally:
            browser.close()
