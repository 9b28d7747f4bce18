"""The shipped experiment and study files (TOML), installed as package data ``predictor.experiments``."""
