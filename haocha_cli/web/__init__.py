"""The web side of haocha, served by `haocha serve`: the public rating page and the staff workbench.

``app.py`` builds the one application; ``rating.py`` is the rating page the QR codes open; ``auth.py`` the
sessions, ``login.py`` the login pages, ``workbench.py`` what every staff page shares, and ``cases.py``,
``city.py`` and ``admin.py`` the pages per audience. Templates are under ``templates/web/``.
"""
