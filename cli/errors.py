"""The one exception type that the command line turns into a one-line reason and a non-zero exit."""


class UserError(Exception):
    """Bad input from the user: the message says what is wrong and what to do."""
