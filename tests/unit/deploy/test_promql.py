"""The metric-name extraction the coverage tests rely on."""

from __future__ import annotations

from tests.support.promql import metric_names


def test_names_functions_labels_durations_and_keywords_are_told_apart() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (stage, le) (rate(visionflow_x_bucket{job="a", le!="1"}[5m])))'
        " / on(instance) group_left(version) visionflow_build_info offset 5m > bool 1e3"
    )
    assert metric_names(expr) == {"visionflow_x_bucket", "visionflow_build_info"}


def test_a_name_inside_a_label_value_is_not_a_metric() -> None:
    assert metric_names('up{job="visionflow_fake"} == 0') == {"up"}
