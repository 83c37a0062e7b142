"""Metric charts in a real Chromium, in English and Chinese, on a wide screen and a phone: grouped charts and a
table of single values, smoothing, log scale, x axis, PNG and CSV export, zoom at full resolution, and compare
(one colour per run, the parameters that differ, final and best values). Screenshots under artifacts/screenshots/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.comparison import run_colours
from console.tests.browser import log_in, new_page, screenshot
from runs.models import MetricPoint, Run, RunStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (Accept-Language, width): the two languages, each on a wide screen and a phone.
VIEWS = [("en-US", 1440), ("zh-CN", 390), ("en-US", 390), ("zh-CN", 1440)]
TEXT = {
    "en": {
        "train": "Training metrics",
        "system": "System metrics",
        "smoothed": "smoothed",
        "epoch": "epoch",
        "png": "Save as PNG",
    },
    "zh": {"train": "训练指标", "system": "系统指标", "smoothed": "平滑", "epoch": "轮次", "png": "保存为 PNG"},
}


def view_name(locale: str, width: int) -> str:
    return f"{language(locale)}-{width}"


def language(locale: str) -> str:
    return "zh" if locale.startswith("zh") else "en"


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def add_series(run: Run, name: str, values: dict[int, float]) -> None:
    start = timezone.now() - timedelta(hours=1)
    MetricPoint.objects.bulk_create(
        (
            MetricPoint(run=run, name=name, step=step, value=value, timestamp=start + timedelta(seconds=step * 9))
            for step, value in values.items()
        ),
        batch_size=5000,
    )


@pytest.fixture
def charted_run(run) -> Run:
    """The console's run (`loss`, `eval_loss`) with a learning rate on a tiny range, epochs, GPU readings,
    an evaluation logged once and the end-of-training summary."""
    steps = range(10, 410, 10)
    add_series(run, "train/learning_rate", {step: 2.0e-3 + step * 1e-8 for step in steps})
    add_series(run, "train/epoch", {step: step / 200 for step in steps})
    add_series(run, "gpu/utilization", {step: 90 + step % 7 for step in steps})
    add_series(run, "eval/accuracy", {400: 0.71})
    add_series(run, "summary/train_runtime", {400: 812.5})
    return run


def legend_labels(chart) -> list[str]:
    return chart.locator(".u-legend .u-series th").all_inner_texts()


def redrawn(chart, before: str) -> None:
    """Wait for the chart's draw count to move past `before`."""
    chart.page.wait_for_function("([el, n]) => Number(el.dataset.drawn) > n", arg=[chart.element_handle(), int(before)])


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_groups_a_runs_charts_and_tables_its_single_values(
    chromium_browser, live_server, charted_run, locale, width
):
    words = TEXT[language(locale)]
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    log_in(page, "alice", "pw-alice")
    page.goto(f"/console/projects/{charted_run.project_id}/runs/{charted_run.pk}/")
    board = page.locator("#charts")
    board.locator(".chart[data-metric='loss'][data-drawn]").wait_for()

    train = board.locator("[data-section='train']")
    assert train.locator("h3").first.inner_text() == words["train"]
    assert train.locator(".chart").evaluate_all("charts => charts.map(c => c.dataset.metric)") == [
        "loss",
        "epoch",
        "learning_rate",
    ]
    assert board.locator("[data-section='system'] .chart").evaluate_all("c => c.map(x => x.dataset.metric)") == [
        "gpu/utilization"
    ]
    assert board.locator("[data-section='system'] h3").inner_text() == words["system"]
    values = board.locator("[data-section='values'] tbody tr")
    assert values.evaluate_all("rows => rows.map(r => r.dataset.metric)") == ["eval/accuracy", "summary/train_runtime"]
    assert board.locator(".chart[data-metric='accuracy'], .chart[data-metric='summary/train_runtime']").count() == 0
    assert legend_labels(board.locator(".chart[data-metric='loss']"))[1:] == ["loss", "eval_loss"]
    # Ticks 5e-5 apart around 2.0e-3 each read differently (not "2.0e-3" three times).
    ticks = page.evaluate("ConsoleCharts.tickLabels([0.002, 0.00205, 0.0021, 0.00215], 0.00005)")
    assert ticks == ["2.00e-3", "2.05e-3", "2.10e-3", "2.15e-3"]
    chart_box = board.locator(".chart").first.evaluate("node => node.getBoundingClientRect().right")
    assert chart_box <= width
    screenshot(page, f"run-charts-{view_name(locale, width)}")

    loss = board.locator(".chart[data-metric='loss']")
    drawn = loss.get_attribute("data-drawn")
    board.locator("[data-control='smoothing']").fill("0.9")
    redrawn(loss, drawn)
    assert legend_labels(loss)[1:3] == ["loss", f"loss ({words['smoothed']})"]
    drawn = loss.get_attribute("data-drawn")
    board.locator("[data-control='log']").check()
    redrawn(loss, drawn)
    board.locator("[data-control='x']").select_option("epoch")
    loss.locator(".u-legend .u-series th", has_text=words["epoch"]).first.wait_for()
    screenshot(page, f"run-charts-smoothed-log-epoch-{view_name(locale, width)}")

    with page.expect_download() as download:
        loss.get_by_role("button", name=words["png"]).click()
    assert download.value.suggested_filename == "loss.png"
    with open(download.value.path(), "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    csv_url = loss.locator("a[data-export='csv']").get_attribute("href")
    exported = page.request.get(csv_url).text().splitlines()
    assert exported[0] == "name,step,value,timestamp"
    assert [line.split(",")[:2] for line in exported[1:3]] == [["eval_loss", "40"], ["loss", "10"]]


def test_it_zooms_a_100000_point_series_to_full_resolution(chromium_browser, live_server, run):
    add_series(run, "train/loss", {step: 3.0 - step / 100_000 for step in range(1, 100_001)})
    Run.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    page = new_page(chromium_browser, live_server)
    log_in(page, "alice", "pw-alice")
    with page.expect_response(lambda response: "max_points=" in response.url) as first:
        page.goto(f"/console/projects/{run.project_id}/runs/{run.pk}/")
    overview = first.value.json()
    assert overview["total"]["train/loss"] == 100_000 and len(overview["series"]["train/loss"]) <= 2000
    loss = page.locator("#charts .chart[data-metric='loss']")
    page.locator("#charts .chart[data-metric='loss'][data-drawn]").wait_for()

    area = loss.locator(".u-over").bounding_box()
    y = area["y"] + area["height"] / 2
    with page.expect_response(lambda response: "since_step=" in response.url) as zoom:
        page.mouse.move(area["x"] + area["width"] * 0.50, y)
        page.mouse.down()
        page.mouse.move(area["x"] + area["width"] * 0.505, y, steps=5)
        page.mouse.up()
    zoomed = zoom.value.json()["series"]["train/loss"]
    steps = [step for step, _ in zoomed]
    assert steps == list(range(steps[0], steps[-1] + 1)) and len(steps) > 100  # every step in the range
    page.locator("#charts .chart[data-metric='loss'][data-zoomed]").wait_for()
    screenshot(page, "run-chart-zoomed")
    loss.locator(".u-over").dblclick()
    page.locator("#charts .chart[data-metric='loss']:not([data-zoomed])").wait_for()


@pytest.fixture
def compared(project, owner) -> list[Run]:
    runs = []
    for index, learning_rate in enumerate((3e-5, 1e-4, 3e-4)):
        compared_run = Run.objects.create(
            project=project,
            name=f"sweep-{index + 1}",
            status=RunStatus.COMPLETED,
            created_by=owner,
            model="qwen2-0.5b",
            hyperparameters={"learning_rate": learning_rate, "warmup_steps": 10},
        )
        add_series(compared_run, "train/loss", {step: 2.5 - step / (400 + 100 * index) for step in range(10, 410, 10)})
        add_series(compared_run, "train/grad_norm", {step: 1 + index + step / 1000 for step in range(10, 410, 10)})
        add_series(compared_run, "eval/loss", {200: 1.9 - index / 10, 400: 1.5 - index / 10})
        runs.append(compared_run)
    return runs


def rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (1, 3, 5)))


@pytest.mark.parametrize(("locale", "width"), VIEWS)
def test_it_compares_runs_in_one_colour_each_with_their_differences(
    chromium_browser, live_server, compared, locale, width
):
    colours = run_colours(compared)
    page = new_page(chromium_browser, live_server, locale=locale, width=width, height=844 if width < 800 else 900)
    log_in(page, "alice", "pw-alice")
    page.goto("/console/compare/?" + "&".join(f"runs={run.pk}" for run in reversed(compared)))
    board = page.locator("#compare-charts")
    for metric in ("loss", "grad_norm"):
        board.locator(f".chart[data-metric='{metric}'][data-drawn]").wait_for()

    for run in compared:
        colour = rgb(colours[run.pk])
        legend = page.locator(f".run-legend li[data-run='{run.pk}'] .swatch")
        assert legend.evaluate("node => getComputedStyle(node).backgroundColor") == colour
        for metric in ("loss", "grad_norm"):
            marker = board.locator(f".chart[data-metric='{metric}'] .u-series", has_text=f"{run.name} · train/")
            assert marker.locator(".u-marker").evaluate("node => getComputedStyle(node).borderColor") == colour

    visible = page.locator("#parameter-table tbody tr:visible th")
    assert visible.all_inner_texts() == ["learning_rate"]
    page.locator("#show-all-parameters").check()
    assert "warmup_steps" in visible.all_inner_texts()
    finals = page.locator("#final-metrics tbody tr").first
    assert finals.locator("th").inner_text().startswith("train/loss")
    assert finals.locator(".final").all_inner_texts() == ["1.5", "1.7", "1.833"]
    assert fits_the_screen(page)
    screenshot(page, f"compare-{view_name(locale, width)}")
