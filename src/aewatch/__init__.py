"""aewatch: safety monitoring and adverse-event alerting for oncology clinical trials."""

__version__ = "0.1.0"
