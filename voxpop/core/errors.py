"""The domain errors: each becomes one clear line for the user. Part of ``voxpop.core`` (imports nothing of ours)."""

from __future__ import annotations


class VoxpopError(Exception):
    """Base of every error voxpop reports as one line (the CLI turns these into ``voxpop: error: ...``)."""


class ConfigError(VoxpopError, ValueError):
    """The configuration file is missing, unreadable or invalid."""


class StoreError(VoxpopError, RuntimeError):
    """The database cannot be reached or is not in a usable state."""


class JobError(VoxpopError, RuntimeError):
    """A job cannot run as asked (unknown product, missing input, ...): one clear line for the user."""


class DeliveryError(VoxpopError, RuntimeError):
    """A target could not be reached or refused the message."""
