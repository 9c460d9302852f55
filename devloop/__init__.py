"""devloop: a routed plan/build/verify loop for one feature, with every model call priced."""

__version__ = "0.1.0"
