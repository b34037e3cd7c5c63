"""Run by web2py before the controller, on every request of the app.

No web2py session: `BasicAuth` authenticates, and the pages keep no state,
so web2py sets no session cookie and writes no session file.
"""

from gluon import current  # type: ignore[import-untyped]

current.session.forget(current.response)
