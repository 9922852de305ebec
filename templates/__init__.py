"""Jinja2 templates for alerts and reports (installed as package data)."""
