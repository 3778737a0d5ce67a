"""seg_desktop: segment an office's clients into revenue tiers and rule-based segments."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seg-desktop")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
