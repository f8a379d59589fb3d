"""haocha: the 好差评 (good/bad review) system of a tobacco monopoly bureau."""

__version__ = "0.1.0"
