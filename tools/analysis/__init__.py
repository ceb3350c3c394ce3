"""Analyses over OHLCV bars: indicators, formulas, backtests, history, charts, sentiment."""
