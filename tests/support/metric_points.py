"""What an in-memory metric reader holds, as comparable rows (tests of fast paths against the SDK's own)."""

from __future__ import annotations

from typing import Any


def histogram_points(reader: Any) -> list[tuple[str, list, int]]:
    """(metric name, sorted attributes, count) for every data point the reader holds, sorted."""
    points = []
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else []:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    points.append((metric.name, sorted(point.attributes.items(), key=repr), point.count))
    return sorted(points, key=repr)
