import pytest

from llmcourse.viz.instruct import exact_match_bars


def test_exact_match_bars_groups_families_and_models():
    fig = exact_match_bars({"before": {"add": 0.0, "count": 0.25}, "after": {"add": 0.9, "x": 1}})
    assert [t.name for t in fig.data] == ["before", "after"]
    assert list(fig.data[0].x) == ["add", "count", "x"]
    assert list(fig.data[0].y) == [0.0, 0.25, None]
    assert list(fig.data[1].y) == [0.9, None, 1.0]
    assert fig.data[1].text[0] == "90%"
    assert fig.layout.barmode == "group"


def test_exact_match_bars_rejects_empty():
    with pytest.raises(ValueError, match="at least one model"):
        exact_match_bars({})
    with pytest.raises(ValueError, match="at least one family"):
        exact_match_bars({"before": {}})
    with pytest.raises(ValueError, match="exact match of 'after' for 'add' must be a finite"):
        exact_match_bars({"after": {"add": float("nan")}})
    with pytest.raises(
        TypeError, match="exact match of 'after' for 'add' must be a number, got str"
    ):
        exact_match_bars({"after": {"add": "90%"}})
