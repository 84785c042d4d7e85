"""Reporters: pure `render(report) -> str` functions, one module per format."""
