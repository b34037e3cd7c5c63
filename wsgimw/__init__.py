"""wsgimw: WSGI (PEP 3333) middleware that is exact about the contract.

Every middleware is a callable ``app -> app``; `compose` folds them over an
application, the first listed outermost.
"""

from .accesslog import AccessLog
from .auth import BasicAuth, BearerAuth
from .compose import Pipeline, compose
from .compress import Compress
from .cors import CORS
from .csrf import CrossOriginGuard
from .environlog import EnvironLog
from .errors import ErrorHandler
from .query import QueryDict, QueryParser
from .rewrite import Rewrite
from .security import SecurityHeaders
from .types import Middleware, WSGIApp

__all__ = [
    "CORS",
    "AccessLog",
    "BasicAuth",
    "BearerAuth",
    "Compress",
    "CrossOriginGuard",
    "EnvironLog",
    "ErrorHandler",
    "Middleware",
    "Pipeline",
    "QueryDict",
    "QueryParser",
    "Rewrite",
    "SecurityHeaders",
    "WSGIApp",
    "compose",
]
__version__ = "0.1.0.dev0"
