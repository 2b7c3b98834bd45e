"""The pure helpers of the browser check (tests/site_check.py): box geometry, the layout problems
of one figure, which control entry is chosen, the weight table."""

import json

import site_check as sc


def box(left, right, top=0, bottom=10):
    return {"left": left, "right": right, "top": top, "bottom": bottom}


def figure(**parts):
    fig = {"id": "f", "svg": box(16, 374, 0, 450), "holder": 358, "controls": [], "titles": []}
    return {"modebar": None, **fig, **parts}


def test_overlap_and_inside():
    assert sc.overlap(box(0, 10), box(5, 20))
    assert not sc.overlap(box(0, 10), box(10.5, 20))  # touching within a pixel is not overlap
    assert not sc.overlap(box(0, 10, 0, 10), box(0, 10, 20, 30))
    assert sc.inside(box(16, 374), box(16, 374))
    assert not sc.inside(box(10, 374), box(16, 374))
    assert sc.inside(box(10, 374, 0, 10), box(16, 374, 0, 10), axes="y")


def test_a_figure_that_fits_has_no_problem():
    fig = figure(
        controls=[{"what": "slider 1 rail", "box": box(30, 360, 400, 410)}],
        titles=[
            {"what": 'title "T"', "box": box(34, 200, 10, 30)},
            {"what": 'annotation "a"', "box": box(40, 120, 40, 55)},
        ],
        modebar=box(250, 372, 2, 28),
    )
    assert sc.figure_layout_problems(fig, 390) == []


def test_each_layout_problem_is_named():
    fig = figure(
        svg=box(16, 476, 0, 450),  # a fixed 460 px figure in a 358 px cell
        controls=[{"what": 'menu 1 button "b"', "box": box(449, 611, 60, 90)}],
        titles=[
            {"what": 'title "long"', "box": box(34, 564, 10, 30)},
            {"what": 'annotation "a"', "box": box(100, 200, 20, 40)},
        ],
        modebar=box(300, 470, 2, 28),
    )
    problems = sc.figure_layout_problems(fig, 390)
    assert problems == [
        "figure #f is 460 px wide, wider than its cell (358 px): cut off",
        'figure #f: menu 1 button "b" lies outside the screen (x 449..611 of 0..390)',
        (
            'figure #f: menu 1 button "b" lies outside the figure (x 449..611, y 60..90;'
            " figure x 16..476, y 0..450)"
        ),
        'figure #f: title "long" is cut off by the figure\'s edge (x 34..564 of x 16..476)',
        'figure #f: the toolbar (modebar) covers title "long"',
        'figure #f: title "long" and annotation "a" overlap',
    ]


def test_pick_prefers_a_reachable_entry_that_is_not_active():
    def entry(n, left, active=False):
        return {"nth": n, "active": active, "box": box(left, left + 50)}

    reach = box(0, 390)
    entries = [entry(0, 10, active=True), entry(1, 100), entry(2, 450)]
    assert sc._pick(entries, reach)["nth"] == 1
    assert sc._pick(entries[:1] + entries[2:], reach)["nth"] == 2  # else any other
    assert sc._pick(entries[:1], reach) is None  # a single entry: nothing to choose


def test_blocked_names_what_covers_the_control():
    exc = Exception(
        "Locator.click: Timeout 3000ms exceeded.\nCall log:\n  - attempting click action\n"
        "      - <p>Next paragraph</p> intercepts pointer events\n"
    )
    assert sc._blocked(exc) == "<p>Next paragraph</p> intercepts pointer events"
    assert sc._blocked(Exception("Timeout 3000ms exceeded.")) == "Timeout 3000ms exceeded."


MEASURED = [
    {"page": "book/intro.html", "width": 1366, "bytes": 612_345, "figures": 0, "fcp_ms": 401.2},
    {"page": "book/00.html", "width": 390, "bytes": 5_200_000, "figures": 3, "fcp_ms": None},
]


def test_weight_table(tmp_path):
    assert sc.report_rows(MEASURED) == [
        ["book/intro.html", "1366", "612", "0", "401"],
        ["book/00.html", "390", "5,200", "3", "?"],
    ]
    text = sc.format_table(MEASURED).splitlines()
    assert text[0].split() == ["page", "width", "KB", "figures", "FCP", "ms"]
    assert len({len(line) for line in text}) == 1  # aligned columns
    sc.write_report(MEASURED, tmp_path / "weight.json")
    assert json.loads((tmp_path / "weight.json").read_text()) == MEASURED
    sc.write_report(MEASURED, tmp_path / "weight.md")
    markdown = (tmp_path / "weight.md").read_text().splitlines()
    assert markdown[0] == "| page | width | KB | figures | FCP ms |"
    assert markdown[2] == "| book/intro.html | 1366 | 612 | 0 | 401 |"
