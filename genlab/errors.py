"""User-facing errors.

Every problem the user can fix (a missing path, an unknown name, a bad number, a corrupt file)
raises :class:`GenlabError`. The command line prints it as one ``error: ...`` line and exits
with status 2; anything else is a bug and keeps its traceback.
"""


class GenlabError(Exception):
    """A problem with the user's input, with a message that says how to fix it."""


class DataError(GenlabError):
    """Missing, empty, corrupt or unknown data."""


class ConfigError(GenlabError):
    """Unknown config key, bad value or malformed config file."""


class CheckpointError(GenlabError):
    """Missing, corrupt or mismatched checkpoint."""


class TrainingDiverged(GenlabError):
    """A loss became NaN or infinite."""
