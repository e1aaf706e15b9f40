"""pluralign: pluralistic alignment toolkit."""
__version__ = "0.1.0"
