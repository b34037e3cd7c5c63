"""A JSON API and the page that calls it, on two ports (two origins):
``python -m recipes.browser_security --port 8000 --page-port 8001``.

* The API (``http://127.0.0.1:8000``) sits behind `CORS`, which lets the
  page's origin (``http://127.0.0.1:8001``) call ``/api/...`` with the
  user's cookie, `CrossOriginGuard`, which refuses form posts from other
  sites, and `SecurityHeaders`.
* The page (``http://127.0.0.1:8001/``) is served with a
  Content-Security-Policy whose nonce lets its own script run; an inline
  script an attacker got into the page (simulated) has no nonce and is
  blocked.
* The same page on ``http://localhost:8001/`` is another origin and
  another site: its calls to the API get no CORS headers (the browser
  blocks them) and its form post is refused with 403.

The browser test in ``tests/integration/test_browser.py`` drives Chromium
through all of it.
"""

from .site import api_app, api_stack, build_api, build_page, main, page_app

__all__ = ["api_app", "api_stack", "build_api", "build_page", "main", "page_app"]
