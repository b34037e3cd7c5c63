"""web2py's URL router, read once when ``gluon.main`` is imported.

With ``demo`` as the default application, and ``default`` as its default
controller, web2py maps ``/`` to ``/demo/default/index`` and ``/search`` to
``/demo/default/search``; the long paths still work.
"""

routers = {"BASE": {"default_application": "demo"}}
