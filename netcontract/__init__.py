"""netcontract: check a live Docker deployment against a declared network contract."""

__version__ = "0.1.0"
