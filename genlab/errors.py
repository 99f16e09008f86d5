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


class Stopped(KeyboardInterrupt):
    """Training stopped on a signal after a whole step, and that step was saved."""

    def __init__(self, signal_name: str, step: int, target: int, run_dir, path):
        super().__init__(signal_name)
        self.signal_name, self.step, self.target, self.run_dir, self.path = signal_name, step, target, run_dir, path

    def message(self) -> str:
        where = f"saved in {self.path}" if self.path else f"saved in {self.run_dir}"
        return (f"genlab: stopped by {self.signal_name} at step {self.step} of {self.target}; {where}. "
                f"Continue with: genlab train --resume {self.run_dir} --steps {self.target}")
