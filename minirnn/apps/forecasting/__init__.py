"""Forecasting a series: transforms fitted on the training span, a linear AR, a recurrent
network on its residuals, baselines, multi-step forecasts with intervals, a figure.

Start with :class:`Forecaster`; ``minirnn train series``, ``minirnn predict`` and
``minirnn forecast`` are thin layers over it. See docs/forecasting.md. Several related
series at once: :class:`GlobalForecaster` (docs/global-forecasting.md).
"""

from minirnn.apps.data.table import (
    SeriesTable,
    format_dates,
    future_dates,
    infer_frequency,
    load_table,
    parse_dates,
)
from minirnn.apps.forecasting.forecaster import Evaluation, Forecast, Forecaster
from minirnn.apps.forecasting.metrics import mae, mase, mase_scale, rmse
from minirnn.apps.forecasting.panel import GlobalForecaster, PanelEvaluation
from minirnn.apps.forecasting.transforms import KINDS, RobustScaler, TargetTransform, detect_season

__all__ = [
    "KINDS", "Evaluation", "Forecast", "Forecaster", "GlobalForecaster", "PanelEvaluation",
    "RobustScaler", "SeriesTable",
    "TargetTransform", "detect_season", "format_dates", "future_dates", "infer_frequency",
    "load_table", "mae", "mase", "mase_scale", "parse_dates", "rmse",
]
