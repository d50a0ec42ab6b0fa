"""Errors meant for people: the CLI prints their message without a traceback."""


class UserFacingError(Exception):
    """Base class for errors whose message tells the user what is wrong and what to do."""


class AssetNotFoundError(UserFacingError, FileNotFoundError):
    """A named pretrained asset (weights file) could not be found from any source."""


class ImageReadError(UserFacingError, ValueError):
    """An input image is missing, not an image, truncated, or too large."""


class BitstreamError(UserFacingError, ValueError):
    """A compressed file is corrupt, truncated, foreign or of an unsupported version."""
