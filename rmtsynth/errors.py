"""Exceptions that reach the user as one plain sentence.

Every class here is a problem with the user's input (exit code 2). The two that the pure math
layer raises also derive from the built-in class a numerical caller would catch: a parameter
outside its domain is a ``ValueError``, a solver that cannot converge an ``ArithmeticError``.
Anything else (a ``ValueError`` from numpy, a ``LinAlgError``) is a defect, not an input error.
"""


class RmtsynthError(Exception):
    """A problem with the user's input; its message is shown as is, with exit code 2."""


class ConfigError(RmtsynthError):
    """A configuration key is missing, unknown, of the wrong type or out of range."""


class ParameterError(RmtsynthError, ValueError):
    """A model parameter outside its domain (raised by the math layer, which knows no config)."""


class ConvergenceError(RmtsynthError, ArithmeticError):
    """The fixed-point solver could not converge at some parameter point."""


class ParameterTypeError(RmtsynthError, TypeError):
    """A parameter of the wrong type (a string where a number belongs, an array where a mapping does)."""


class DataError(RmtsynthError):
    """The data a valid config names do not fit what it asks (found once the rows are read)."""
