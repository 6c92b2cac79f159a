"""Exceptions that reach the user as one plain sentence."""


class RmtsynthError(Exception):
    """A problem with the user's input; its message is shown as is, with exit code 2."""


class ConfigError(RmtsynthError):
    """A configuration key is missing, unknown, of the wrong type or out of range."""


class ConvergenceError(RmtsynthError):
    """The fixed-point solver could not converge at some parameter point."""
