"""Alerts: rule evaluation engine, depeg monitor, risk score and the alert service."""
