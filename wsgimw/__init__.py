"""wsgimw: WSGI (PEP 3333) middleware that is exact about the contract.

Every middleware is a callable ``app -> app``; `compose` folds them over an
application, the first listed outermost.
"""

from .compose import Pipeline, compose
from .errors import ErrorHandler
from .rewrite import Rewrite
from .types import Middleware, WSGIApp

__all__ = ["ErrorHandler", "Middleware", "Pipeline", "Rewrite", "WSGIApp", "compose"]
__version__ = "0.1.0.dev0"
